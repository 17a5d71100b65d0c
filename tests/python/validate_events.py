"""Check normalized events the way a worker in another language would.

Reads a JSON array of events (the SQS message bodies) from the file given, and for each:
- validates it against schema/kyc-event.schema.json with the standard `jsonschema` validator
  (Draft 2020-12, `date-time` formats checked);
- parses it with the official CloudEvents Python SDK (`cloudevents`) and checks that the SDK reads
  the same id, source, type, subject and time.

Prints one line per event and exits 1 at the first event that fails, saying why.
usage: python validate_events.py EVENTS_FILE
"""

import json
import pathlib
import sys

import jsonschema
from cloudevents.core.formats.json import JSONFormat

SCHEMA = pathlib.Path(__file__).resolve().parents[2] / "schema" / "kyc-event.schema.json"


def main() -> int:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    events = json.loads(pathlib.Path(sys.argv[1]).read_text())
    for n, event in enumerate(events, 1):
        errors = sorted(validator.iter_errors(event), key=lambda e: list(e.path))
        if errors:
            e = errors[0]
            print(f"event {n} ({event.get('type')}): schema: {'/'.join(map(str, e.path))}: {e.message}")
            return 1
        parsed = JSONFormat().read(None, json.dumps(event))
        seen = {
            "id": parsed.get_id(),
            "source": parsed.get_source(),
            "type": parsed.get_type(),
            "subject": parsed.get_subject(),
        }
        for key, value in seen.items():
            if value != event.get(key):
                print(f"event {n}: the CloudEvents SDK read {key}={value!r}, the event says {event.get(key)!r}")
                return 1
        if parsed.get_time() is None:
            print(f"event {n}: the CloudEvents SDK read no time")
            return 1
        print(f"event {n}: ok {event['type']} ({event['data']['auth_scheme']})")
    print(f"{len(events)} events valid against the schema and read by the CloudEvents SDK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
