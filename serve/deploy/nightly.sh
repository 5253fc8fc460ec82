#!/bin/sh
# Score yesterday's logged mail: what the systemd timer (or cron) runs every night at 02:30.
#
# Environment (all optional):
#   MAILGUARD_CONFIG   config file            (default /etc/mailguard/mailguard.toml)
#   MAILGUARD_RESULTS  folder of nightly runs (default /var/lib/mailguard/results)
#   MAILGUARD_BIN      the mailguard command  (default /opt/mailguard/.venv/bin/mailguard)
#   MAILGUARD_DAY      day to score, YYYY-MM-DD (default yesterday; set it to re-run a past night)
# Extra arguments are passed to `mailguard score` (e.g. --quiet, --rescore).
# Exit code is mailguard's: 0 all scored, 1 some messages unreadable (still one row each), 2 could not run.
set -eu

config="${MAILGUARD_CONFIG:-/etc/mailguard/mailguard.toml}"
results="${MAILGUARD_RESULTS:-/var/lib/mailguard/results}"
mailguard="${MAILGUARD_BIN:-/opt/mailguard/.venv/bin/mailguard}"
day="${MAILGUARD_DAY:-$(date -d yesterday +%F)}"
# The day in the server's local time zone, as exact instants: [day 00:00, next day 00:00).
since="$(date -d "$day 00:00" +%FT%T%:z)"
next_day="$(date -d "$day +1 day" +%F)"
until="$(date -d "$next_day 00:00" +%FT%T%:z)"

umask 077  # results hold mail: readable by the service user only
# One folder per night: re-running the same night resumes it and scores nothing twice.
exec "$mailguard" score --config "$config" --since "$since" --until "$until" --out "$results/$day" "$@"
