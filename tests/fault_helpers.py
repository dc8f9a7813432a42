"""The outcome every fault-injection case must have (shared by the fault tables)."""

from __future__ import annotations


def assert_one_named_line(code: int, expected: str, got: int, out: str, err: str) -> None:
    """Exit ``code``, never a traceback; exit 2: exactly one ``error:`` line, the last one,
    holding ``expected``; any other exit: ``expected`` on stderr (exit 0: on stdout).
    """
    assert got == code, err
    assert "Traceback" not in err
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("error: ")]
        assert len(errors) == 1 and errors[0] == lines[-1], err
        assert expected in errors[0], err
    else:
        assert expected in (out if code == 0 else err), (out, err)
