"""Employer monitoring (issue 15): institution keys, watch lists, notifications, webhooks."""
