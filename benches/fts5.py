"""SQLite FTS5 over the same published documents and queries as the search
benchmark, for comparison: build time, then p50/p99 per query.

python3 benches/fts5.py KATALOG_SQLITE_DB QUERIES_FILE
"""
import json
import re
import sqlite3
import sys
import time

FIELDS = [("name", 5.0), ("keywords", 4.0), ("synonyms", 3.0), ("teaser", 1.5), ("short_text", 2.0), ("full_text", 1.0)]


def text(value):
    if isinstance(value, list):
        return " ".join(text(v) for v in value)
    return value if isinstance(value, str) else ""


def main(database, queries_file):
    source = sqlite3.connect(database)
    rows = source.execute(
        "SELECT e.content_type || '/' || e.slug, r.document FROM entries e "
        "JOIN publications p ON p.entry_id = e.id AND p.locale = 'de' AND p.published_number IS NOT NULL "
        "JOIN revisions r ON r.entry_id = e.id AND r.locale = 'de' AND r.number = p.published_number"
    ).fetchall()
    fts = sqlite3.connect(":memory:")
    columns = ", ".join(name for name, _ in FIELDS)
    fts.execute(f"CREATE VIRTUAL TABLE docs USING fts5(key UNINDEXED, {columns}, tokenize = 'unicode61 remove_diacritics 2')")
    started = time.perf_counter()
    fts.executemany(
        f"INSERT INTO docs VALUES (?, {', '.join('?' for _ in FIELDS)})",
        ((key, *(text(json.loads(document).get(name)) for name, _ in FIELDS)) for key, document in rows),
    )
    fts.commit()
    build = time.perf_counter() - started
    weights = ", ".join(str(w) for _, w in FIELDS)
    queries = [line.rstrip("\n") for line in open(queries_file, encoding="utf-8") if line.strip()]
    times = []
    for query in queries:
        words = re.findall(r"\w+", query.lower())
        if not words:
            continue
        # Any word; the last one as a prefix, as typed.
        expression = " OR ".join(f'"{w}"' for w in words[:-1]) + (" OR " if len(words) > 1 else "") + f'"{words[-1]}"*'
        started = time.perf_counter()
        fts.execute(f"SELECT key FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, 0, {weights}) LIMIT 10", (expression,)).fetchall()
        times.append(time.perf_counter() - started)
    times.sort()
    p50, p99 = times[len(times) // 2] * 1000, times[int(len(times) * 0.99)] * 1000
    print(f"SQLite FTS5: {len(rows)} documents indexed in {build:.1f} s; {len(times)} queries: p50 {p50:.2f} ms, p99 {p99:.2f} ms")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
