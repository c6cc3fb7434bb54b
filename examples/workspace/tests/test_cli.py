from textkit.cli import main


def test_slug(capsys):
    assert main(["slug", "A B"]) == 0
    assert capsys.readouterr().out == "a-b\n"


def test_count(tmp_path, capsys):
    f = tmp_path / "t.txt"
    f.write_text("b a b")
    assert main(["count", str(f)]) == 0
    assert capsys.readouterr().out == "    2 b\n    1 a\n"
