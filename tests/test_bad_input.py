"""The catalogue of bad input: each case, the one line it gets, and that nothing was written.

Every row is a reproduced case from the issue on trust (issue 13); the message is matched
as the user sees it on stderr, with exit status 2. Cases about stored chunks (damaged,
truncated, without their design.json) are in ``tests/llm/test_store.py``.
"""

from __future__ import annotations

import pytest

from empathylab.cli import main

ALIAS_BOMB = 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n' + (
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
)

#: (case, profile file content or None, command after `empathylab`, expected in the one line)
CASES = [
    (
        "a negative seed",
        "name: x\nseed: -1\n",
        ["profile", "show"],
        "seed: Input should be greater than or equal to 0",
    ),
    (
        "a seed past 2**32",
        "name: x\nseed: 4294967296\n",
        ["profile", "show"],
        "seed: Input should be less than",
    ),
    (
        "a typo in output_dir",
        "name: x\noutput_dir: results/{nam}\n",
        ["profile", "show"],
        "only placeholder allowed is {name}",
    ),
    ("a profile that is not UTF-8", b"name: caf\xe9\n", ["profile", "show"], "is not UTF-8 text"),
    ("an empty profile", "", ["profile", "show"], "is empty"),
    (
        "a key given twice",
        "name: x\nseed: 1\nseed: 2\n",
        ["profile", "show"],
        "the key 'seed' is given twice",
    ),
    (
        "a key that moved",
        "name: x\ngaps:\n  backend: vllm\n",
        ["profile", "show"],
        "gaps.backend -> llm.backend",
    ),
    ("a YAML alias bomb", ALIAS_BOMB, ["profile", "show"], "unknown key"),
    (
        None,
        None,
        ["gaps", "analyze", "results", "--permutations", str(10**12)],
        "--permutations: must be from 1 to",
    ),
    (None, None, ["gaps", "analyze", "results", "--bootstrap", "-1"], "--bootstrap: must be from 0 to"),
    (None, None, ["labels", "agreement", "--min-labels", "-5"], "--min-labels: must be from 1 to"),
    (None, None, ["gaps", "run", "--items-per-emotion", "zero"], "'zero' is not a whole number"),
    (
        None,
        None,
        ["gaps", "analyze", "results", "--round-means", "-1"],
        "--round-means: must be from 0 to 15",
    ),
    (
        None,
        None,
        ["gaps", "analyze", "results", "--exact", "--sampled"],
        "argument --sampled: not allowed with argument --exact",
    ),
    (None, None, ["gaps", "compare", "results", "--bootstrap", "1"], "--bootstrap: must be from 2 to"),
    (None, None, ["gaps", "compare"], "the following arguments are required: A"),
    (None, None, ["gaps", "compare", "no/such/folder"], "No stored results"),
]


@pytest.mark.parametrize(
    "case, content, command, expected", CASES, ids=[c[0] or " ".join(c[2]) for c in CASES]
)
def test_each_bad_input_gets_one_line(tmp_path, capsys, case, content, command, expected):
    argv = list(command)
    if content is not None:
        path = tmp_path / "bad.yaml"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        argv.append(str(path))  # every profile case runs `empathylab profile show PATH`
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and len(err) < 700, err[:300]
    assert expected in err


def test_a_folder_given_as_profile_is_called_a_folder(tmp_path, capsys):
    assert main(["gaps", "run", "--profile", str(tmp_path) + "/"]) == 2
    assert "is a folder; give the path of a profile's YAML file" in capsys.readouterr().err


def test_a_sample_larger_than_the_essays_is_refused_before_any_model_loads(mirror, capsys):
    assert main(["labels", "run", "--sample", "100000"]) == 2
    err = capsys.readouterr().err
    assert "A sample of 100,000 essays is more than the 1,860 public essays" in err


def test_a_bad_option_is_blamed_on_the_option_not_the_profile(mirror, capsys):
    assert main(["gaps", "run", "--grouping", "religon"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("empathylab: error: Invalid option (with ")
        and "params/demo.yaml is invalid" not in err
    )
    assert "unknown grouping(s) religon" in err


def test_a_server_that_accepts_but_never_answers_is_not_called_unreachable():
    import socket
    import threading

    from empathylab.errors import BackendError
    from empathylab.llm.openai_backend import OpenAIBackend

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        accepted = []
        threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
        with pytest.raises(
            BackendError, match="accepted the connection but did not answer /models within 1 s"
        ):
            OpenAIBackend("m", base_url=f"http://127.0.0.1:{port}/v1", timeout=1)
