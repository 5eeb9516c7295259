"""Check a JSON-lines file written onto a disk that filled up: every whole
line is one JSON record, or the cut-off start of one (a write the full disk
cut short), never a cut record with another glued onto it.  The last line
may be cut.  Exit 0 when so and at least MIN (argv[2]) records parse."""
import json
import sys

lines = open(sys.argv[1], "rb").read().split(b"\n")[:-1]
good = 0
for n, line in enumerate(lines, 1):
    try:
        json.loads(line)
        good += 1
    except ValueError:
        if line.count(b'{"@timestamp"') > 1:
            print("line %d: a cut record with another glued on" % n)
            sys.exit(1)
sys.exit(0 if good >= int(sys.argv[2]) else 1)
