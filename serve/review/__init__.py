"""Reviewer triage web app: HR and legal reviewers decide on what the nightly scoring run flags."""
