"""The help texts of the Prefect UI's forms (plmigrate/form.py): the waves of each inventory,
read leniently from deployments/waves/, and the Resume dialog's help."""

from __future__ import annotations

from pathlib import Path

from plmigrate.form import MAX_WAVES_LISTED, inventory_waves, resume_help, wave_help


def test_the_shipped_inventories_list_their_waves() -> None:
    found = inventory_waves()
    assert found["finance.csv"] == {"wave-01": 36, "wave-02": 8}
    text = wave_help(found)
    assert "finance.csv has wave-01 (36 servers), wave-02 (8 servers)" in text
    assert "`" not in text  # shown as plain text under the label


def test_csv_and_yaml_are_read_leniently(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("\ufeffServer, Wave \nx,Wave-1\ny,wave-1\nz,wave-2\nshort\n")
    (tmp_path / "b.yaml").write_text("servers:\n  - {server: x, wave: w1}\n  - {server: y}\n  - oops\n")
    (tmp_path / "c.yml").write_text("- {server: x, wave: w9}\n")
    (tmp_path / "broken.yaml").write_text("servers: [\n")
    (tmp_path / "nowave.csv").write_text("server\nx\n")
    (tmp_path / "notes.txt").write_text("wave\nw\n")
    assert inventory_waves(tmp_path) == {"a.csv": {"wave-1": 2, "wave-2": 1}, "b.yaml": {"w1": 1}, "c.yml": {"w9": 1}}
    assert inventory_waves(tmp_path / "missing") == {}


def test_the_wave_help_without_inventories_and_with_many_waves() -> None:
    assert wave_help({}) == "Which wave of the inventory to run (a value of its wave column)."
    many = {f"w{i:02d}": 1 for i in range(MAX_WAVES_LISTED + 3)}
    text = wave_help({"big.csv": many})
    assert "big.csv has w00 (1 server), w01 (1 server)" in text and text.endswith("and 3 more.")
    assert f"w{MAX_WAVES_LISTED:02d}" not in text


def test_the_resume_help_names_the_pending_accounts() -> None:
    text = resume_help(["stfincache02", "stfincache01"])
    assert "stfincache01, stfincache02" in text and "Pending" in text
