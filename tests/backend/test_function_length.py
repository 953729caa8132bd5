"""scripts/check_function_length.py finds a function over 60 lines; the code has none outside the exemptions."""

import importlib.util
import pathlib

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "check_function_length.py"
spec = importlib.util.spec_from_file_location("check_function_length", SCRIPT)
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)


def test_a_function_over_the_limit_is_found(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(60))
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "long.py").write_text(f"def short():\n    return 1\n\n\ndef long():\n{body}\n")
    assert check.long_functions(tmp_path) == [("app/long.py", 5, "long", 61)]


def test_no_function_is_over_the_limit():
    assert check.long_functions() == []
