"""The README's quick start runs as written."""
import pathlib
import re

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def test_quick_start_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    namespace = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    out = capsys.readouterr().out
    assert "{ lambda" in out and "def kernel(a0):" in out
    assert namespace["H"].shape == (3, 3) and set(namespace["grads"]) == {"w", "b"}
