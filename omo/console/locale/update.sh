#!/bin/sh
# Refresh the console's English catalogue, then compile it.
#
# makemessages reads one directory tree, so a scratch tree links the console together with the other
# modules whose strings the console shows (chart labels, model choices and roles). Existing
# translations are kept; new strings arrive with an empty msgstr; translate them, then run again.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
omo=$(cd "$here/../.." && pwd)
root=$(cd "$omo/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/shared" "$scratch/locale/en/LC_MESSAGES"
ln -s "$omo/console" "$scratch/console"
for module in analytics/charts.py commerce/models.py staff/roles.py staff/models.py catalog/models.py \
    customers/models.py loyalty/models.py; do
  ln -s "$omo/$module" "$scratch/shared/$(echo "$module" | tr / _)"
done
cp "$here/en/LC_MESSAGES/django.po" "$scratch/locale/en/LC_MESSAGES/django.po"
cd "$scratch"
DJANGO_SETTINGS_MODULE=config.settings PYTHONPATH="$root" "$root/.venv/bin/django-admin" makemessages \
  -l en --symlinks --no-location --no-obsolete --ignore 'console/tests/*' --ignore 'console/locale/*'
cp "$scratch/locale/en/LC_MESSAGES/django.po" "$here/en/LC_MESSAGES/django.po"
msgfmt --check -o "$here/en/LC_MESSAGES/django.mo" "$here/en/LC_MESSAGES/django.po"
