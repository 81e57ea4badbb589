#!/usr/bin/env python3
"""Writes the malformed report cases (report_*.json in this folder) from a real report.

    python3 tests/data/malformed/make_report_cases.py BUILD/app/checkpointlab

Runs two steps of the tutorial MLP preset with --report, then writes one file per way a report
can be damaged or forged (issue 27: contradictions with its own events, sums past int64, lenient
text, duplicate keys, nesting). Each file's expected one-line message is in expected_errors.tsv;
tst_recorded_run reads every case through load_recorded_run. The cases too large to keep in the
repository (past the value, string and size caps) are made by the tests at run time.
"""
import copy
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PRESET = os.path.join(HERE, "..", "..", "..", "resources", "presets", "tutorial_mlp.json")
TIB = 1 << 40
INT64_MAX = (1 << 63) - 1


def dump(report):
    """The writer's layout (writers.cpp): indented fields, then one row per line."""
    head = {k: v for k, v in report.items() if k not in ("events", "spans")}
    text = json.dumps(head, indent=2, ensure_ascii=False)[:-2]
    for key in ("events", "spans"):
        if key not in report:
            continue
        rows = report[key]
        text += ',\n  "%s": [' % key
        text += ",".join("\n    " + json.dumps(r, separators=(",", ":")) for r in rows)
        text += "\n  ]" if rows else "]"
    return text + "\n}\n"


def first(events, pred):
    return next(i for i, e in enumerate(events) if pred(e))


def cases(base):
    """name -> report text."""
    out = {}

    def case(name, edit):
        r = copy.deepcopy(base)
        result = edit(r)
        out[name] = result if isinstance(result, str) else dump(r)

    ev, mem = "events", "memory"
    case("report_peak_ten_times", lambda r: r[mem].update(peak_total=r[mem]["peak_total"] * 10))

    def tib_band(r):
        # One category 1 TiB below zero and another 1 TiB above: the total never moves.
        live = r[mem]["baseline"]
        total = sum(live.values())
        rows = [[0, -TIB, "parameter", -1, -1, "forward", total - TIB], [0, TIB, "temporary", -1, -1, "forward", total]]
        r[ev][0:0] = rows
        r["event_count"] += 2
        r[mem]["peak_event"] += 2
    case("report_category_minus_1tib", tib_band)

    def backwards(r):
        i = first(r[ev], lambda e: e[0] > 0) + 1
        r[ev][i][0] = r[ev][i - 1][0] - 1
    case("report_time_backwards", backwards)
    case("report_event_after_end", lambda r: r[ev][-1].__setitem__(0, r["timings_ns"]["step"] + 1))
    case("report_span_after_end", lambda r: r["spans"][-1].__setitem__(4, r["timings_ns"]["step"] + 1000))
    case("report_span_ends_before_start", lambda r: r["spans"][0].__setitem__(4, r["spans"][0][3] - 1))

    def layer_max(r):
        r[ev][first(r[ev], lambda e: e[3] >= 0)][4] = 2147483647
    case("report_layer_int32_max", layer_max)

    def block_out(r):
        r[ev][first(r[ev], lambda e: e[3] >= 0)][3] = len(r["blocks"])
    case("report_block_outside_model", block_out)

    def baseline_overflow(r):
        r[mem]["baseline"]["parameter"] = INT64_MAX
        r[mem]["baseline"]["optimizer_state"] = INT64_MAX
    case("report_baseline_overflow", baseline_overflow)

    def kept_overflow(r):
        for b in r["blocks"][:2]:
            b["kept_bytes"] = INT64_MAX
    case("report_kept_overflow", kept_overflow)

    def avoided_overflow(r):
        for b in r["blocks"][:2]:
            b["avoided_bytes"] = -INT64_MAX
    case("report_avoided_overflow", avoided_overflow)

    def live_overflow(r):
        i = first(r[ev], lambda e: e[2] == "parameter" or e[1] > 0)
        r[ev][i][1] = INT64_MAX
    case("report_live_overflow", live_overflow)

    def at_peak(r):
        a = r[mem]["at_peak"]
        a["activation"] += 8
        a["parameter"] -= 8
    case("report_at_peak_moved", at_peak)
    case("report_peak_event_moved", lambda r: r[mem].update(peak_event=r[mem]["peak_event"] - 1))
    case("report_peak_tag_moved", lambda r: r[mem]["peak_tag"].update(phase="optimizer"))
    case("report_peak_time_moved", lambda r: r[mem].update(peak_time_ns=r[mem]["peak_time_ns"] + 1))
    case("report_category_peak_ten_times",
         lambda r: r[mem]["peak"].update(activation=r[mem]["peak"]["activation"] * 10))
    case("report_event_count", lambda r: r.update(event_count=r["event_count"] + 1))
    case("report_spans_without_events", lambda r: r.pop("events"))
    case("report_kept_total_stated", lambda r: r[mem].update(kept_bytes_total=r[mem]["kept_bytes_total"] + 1))
    case("report_layers_of_block", lambda r: r["blocks"][1]["layers"].pop())
    case("report_negative_time", lambda r: r[ev][0].__setitem__(0, -1))

    text = dump(base)
    checksum = base["gradient"]["checksum"]
    for name, bad in (("minus", "0x-1"), ("space", "0x 1f"), ("0x0x", "0x0x1f"), ("short", "0x1f")):
        out["report_checksum_" + name] = text.replace('"%s"' % checksum, '"%s"' % bad, 1)
    status = '"status": "%s",' % base["status"]
    out["report_duplicate_key"] = text.replace(status, status + "\n  " + status, 1)
    out["report_deep_nesting"] = text.replace('"model":', '"x": ' + "[" * 70 + "]" * 70 + ',\n  "model":', 1)
    out["report_not_an_object"] = "[" + text + "]\n"
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "base.json")
        subprocess.run([sys.argv[1], "run", PRESET, "--steps", "2", "--quiet", "--report", path], check=True)
        with open(path, encoding="utf-8") as f:
            base = json.load(f)
    for name, text in sorted(cases(base).items()):
        with open(os.path.join(HERE, name + ".json"), "w", encoding="utf-8") as f:
            f.write(text)
        print(name + ".json")


if __name__ == "__main__":
    main()
