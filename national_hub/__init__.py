"""national_hub."""
