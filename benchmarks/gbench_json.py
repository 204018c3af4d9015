"""Google Benchmark's JSON output (--benchmark_out_format=json), also when the program died.

Google Benchmark writes each row as it finishes and closes the list at the end: a program that
crashed or was killed leaves the rows it finished without the closing brackets. read_rows()
returns those rows rather than none (benchmarks/gpu/*.py: a GPU run is too rare to lose them);
row_name() gives a row's name as the tables print it.
"""
import json


def read_rows(path):
    """The rows ("benchmarks") of the JSON file at `path`: all of them, or those a program that
    died finished writing; [] when the file is missing or holds no whole row."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return []
    # strict=False: Google Benchmark writes control characters of error messages unescaped.
    candidates = [text, text.rstrip().rstrip(",") + "]}"]
    cut = text.rfind("\n    }")  # the end of the last whole row (rows are indented by 4)
    if cut >= 0:
        candidates.append(text[:cut] + "\n    }]}")
    for candidate in candidates:
        try:
            return json.loads(candidate, strict=False).get("benchmarks", [])
        except ValueError:
            continue
    return []


def row_name(row):
    """A row's benchmark name without Google Benchmark's "/manual_time" suffix (fcam's GPU
    benchmarks time by hand)."""
    return row["run_name"].replace("/manual_time", "")
