#!/bin/sh
# One-shot set-up of the shared state volume for the compose federation:
#   keys/<name>.key|.pub   Ed25519 key pairs (hub and every province), via `province-node keygen`
#   keys/federation.secret the person_ref HMAC secret shared by the provinces
#   keys/hub.token         the plain `hub`-role token the hub presents to province nodes
#   tokens.json            every plain operator token (mode 0600), printed at the end
#   federation.toml        the federation file (CONTRACT §2) with compose service hostnames
#   var/                   the databases, optionally seeded with demo registrations
# Re-running it changes nothing that already exists: keys and tokens are generated once.
#
# Environment (defaults in brackets):
#   REGSYNC_STATE          state directory [/state]
#   REGSYNC_PROVINCES      space- or comma-separated province codes [50 11 44]
#   REGSYNC_KAFKA          Kafka bootstrap as seen from the containers [kafka:9092]
#   REGSYNC_HUB_PORT       hub port inside its container [8080]
#   REGSYNC_DEMO_RECORDS   demo registrations per province, 0 for none [1000]
#   REGSYNC_TRUSTED_PROXIES space- or comma-separated networks for hub.trusted_proxies: the
#                          hub replicas' balancer [none]
set -eu

STATE=${REGSYNC_STATE:-/state}
PROVINCES=$(printf '%s' "${REGSYNC_PROVINCES:-50 11 44}" | tr ',' ' ')
KAFKA=${REGSYNC_KAFKA:-kafka:9092}
HUB_PORT=${REGSYNC_HUB_PORT:-8080}
RECORDS=${REGSYNC_DEMO_RECORDS:-1000}
PROXIES=$(printf '%s' "${REGSYNC_TRUSTED_PROXIES:-}" | tr ',' ' ')

say() { printf '[init] %s\n' "$*"; }

umask 077
mkdir -p "$STATE/keys" "$STATE/var"

for name in hub $PROVINCES; do
    if [ -f "$STATE/keys/$name.key" ]; then
        say "key $name exists"
    else
        say "generating Ed25519 key pair keys/$name"
        province-node keygen --out "$STATE/keys/$name"
    fi
done

# Tokens and the federation file. Plain tokens are kept only in tokens.json and keys/hub.token;
# the federation file holds their sha256.
python3 - "$STATE" "$KAFKA" "$HUB_PORT" "$PROXIES" $PROVINCES <<'PY'
import hashlib
import json
import secrets
import sys
from pathlib import Path

from schemas.vocab import PROVINCES

state, kafka, hub_port = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
proxies, codes = sys.argv[4].split(), sys.argv[5:]
keys = state / "keys"


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def write_secret(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)


for code in codes:
    if code not in PROVINCES:
        sys.exit(f"[init] unknown province code {code!r}")

tokens_file = state / "tokens.json"
tok = json.loads(tokens_file.read_text()) if tokens_file.exists() else {}
tok.setdefault("ops", secrets.token_urlsafe(24))
tok.setdefault("hub", secrets.token_urlsafe(24))
prov = tok.setdefault("provinces", {})
for code in codes:
    p = prov.setdefault(code, {})
    p.setdefault("registrar", secrets.token_urlsafe(24))
    p.setdefault("viewer", secrets.token_urlsafe(24))
write_secret(tokens_file, json.dumps(tok, indent=2) + "\n")
write_secret(keys / "hub.token", tok["hub"] + "\n")
if not (keys / "federation.secret").exists():
    write_secret(keys / "federation.secret", secrets.token_hex(32) + "\n")


def q(value: str) -> str:  # a TOML basic string (JSON escaping is a subset of TOML's)
    return json.dumps(value, ensure_ascii=False)


lines = [
    "# Written by compose/init/init-federation.sh. Hostnames are compose service names.",
    "[kafka]",
    f"bootstrap = {q(kafka)}",
    'topic_prefix = "regsync"',
    "partitions = 3",
    "replication_factor = 1",
    "",
    "[hub]",
    f'listen = "0.0.0.0:{hub_port}"',
    'db = "var/national.duckdb"',
    'signing_key = "keys/hub.key"',
    f'ops_token_sha256 = "{sha(tok["ops"])}"',
    'node_token_file = "keys/hub.token"',
]
if proxies:
    lines.append(f"trusted_proxies = {json.dumps(proxies)}")
for code in codes:
    port = 8100 + int(code)
    t = prov[code]
    lines += [
        "",
        "[[province]]",
        f'code = "{code}"',
        f"name = {q(PROVINCES[code])}",
        f'node_url = "http://province-{code}:{port}"',
        f'public_key = "keys/{code}.pub"',
        f'listen = "0.0.0.0:{port}"',
        f'db = "var/province-{code}.sqlite"',
        f'signing_key = "keys/{code}.key"',
        f'tokens_sha256 = {{ registrar = ["{sha(t["registrar"])}"], '
        f'viewer = ["{sha(t["viewer"])}"], hub = ["{sha(tok["hub"])}"] }}',
        'person_ref_key_file = "keys/federation.secret"',
    ]
(state / "federation.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
print(f"[init] wrote {state / 'federation.toml'}")
PY

if [ "$RECORDS" -gt 0 ]; then
    for code in $PROVINCES; do
        if [ -f "$STATE/var/province-$code.sqlite" ]; then
            say "province $code already has a database; no demo data added"
            continue
        fi
        say "generating $RECORDS demo registrations for province $code"
        province-node generate --config "$STATE/federation.toml" --province "$code" \
            --records "$RECORDS" --out "$STATE/var/demo-$code.jsonl"
        province-node import --config "$STATE/federation.toml" --province "$code" \
            --no-progress "$STATE/var/demo-$code.jsonl"
    done
fi

python3 - "$STATE/tokens.json" <<'PY'
import json
import sys

tok = json.load(open(sys.argv[1]))
print("[init] ready. Operator tokens (also in tokens.json on the state volume):")
print(f"  ops token (hub dead letters, anomalies): {tok['ops']}")
for code, t in tok["provinces"].items():
    print(f"  province {code}: registrar {t['registrar']}   viewer {t['viewer']}")
PY
