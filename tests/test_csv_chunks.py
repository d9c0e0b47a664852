"""The block reader gives the rows and lines the csv module gives, whatever the file holds."""

import csv
import io
import random

import pytest

from lineage.loaders import csv_chunks


def _expected(data: bytes):
    """The csv module's reading: the header, then (row, the line it starts on)."""
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    header = next(reader, None)
    rows, line = [], reader.line_num + 1
    for row in reader:
        rows.append((row, line))
        line = reader.line_num + 1
    return header, rows


def _read(path):
    out = list(csv_chunks.read(str(path)))
    if not out:
        return None, [], []
    header, chunks = out[0], out[1:]
    rows, short = [], []
    for chunk in chunks:
        for n, line in enumerate(chunk.lines):
            rows.append(([col[n] for col in chunk.columns], line))
        short += [cells for _, cells in chunk.short]
    return header, rows, short


def _same_row(got: list[str], want: list[str]) -> bool:
    """Equal, but for the "" a column holds where a row is short."""
    return got[:len(want)] == want and not any(got[len(want):])


CASES = {
    "plain": b"gen_id,score\nd_1,2\nd_2,3\n",
    "no final newline": b"gen_id,score\nd_1,2\nd_2,3",
    "bom": b"\xef\xbb\xbfgen_id,score\nd_1,2\n",
    "crlf": b"gen_id,score\r\nd_1,2\r\nd_2,3\r\n",
    "lone cr": b"gen_id,score\rd_1,2\rd_2,3\r",
    "quoted": b'gen_id,note\nd_1,"a, b"\nd_2,"say ""hi"""\n',
    "multi-line cell": b'gen_id,note\nd_1,"two\nlines"\nd_2,x\n',
    "blank lines": b"gen_id,score\n\nd_1,2\n\n\nd_2,3\n",
    "ragged": b"a,b,c\n1,2\n1,2,3,4\n1\n",
    "one column with blanks": b"gen_id\nd_1\n\nd_2\n",
    "header only": b"gen_id,score\n",
    "empty": b"",
    "line separator in a cell": "gen_id,note\nd_1,a\u2028b\nd_2,c\x1ed\n".encode(),
    "spaces": b" gen_id , score \n d_1 , 2 \n",
}


@pytest.mark.parametrize("block", [3, 16, csv_chunks.BLOCK])
@pytest.mark.parametrize("name", CASES)
def test_same_rows_and_lines_as_the_csv_module(tmp_path, monkeypatch, name, block):
    monkeypatch.setattr(csv_chunks, "BLOCK", block)
    monkeypatch.setattr(csv_chunks, "ROWS", 2)
    path = tmp_path / "f.csv"
    path.write_bytes(CASES[name])
    want_header, want_rows = _expected(CASES[name])
    header, rows, _ = _read(path)
    assert header == ([n.strip() for n in want_header] if want_header is not None else None)
    assert [line for _, line in rows] == [line for _, line in want_rows]
    assert all(_same_row(got, want) for (got, _), (want, _) in zip(rows, want_rows))


def test_random_files_read_as_the_csv_module_reads_them(tmp_path, monkeypatch):
    """Files written by the csv module from random cells (quotes, commas, line breaks, blank
    and ragged rows, either line end), read with blocks of every small size."""
    rng = random.Random(7)
    alphabet = ["d_1", "e_2", "x", "", " ", ",", '"', "\n", "\r\n", "gens/essay/e_3", "é"]
    for case in range(200):
        width = rng.randint(1, 4)
        rows = [[rng.choice(alphabet) * rng.randint(0, 2) for _ in range(rng.choice([width, width, width - 1, width + 1]))]
                for _ in range(rng.randint(0, 6))]
        out = io.StringIO(newline="")
        csv.writer(out, lineterminator=rng.choice(["\n", "\r\n"])).writerows([[f"c{i}" for i in range(width)], *rows])
        data = out.getvalue().encode()
        path = tmp_path / f"{case}.csv"
        path.write_bytes(data)
        monkeypatch.setattr(csv_chunks, "BLOCK", rng.randint(1, 64))
        monkeypatch.setattr(csv_chunks, "ROWS", rng.randint(1, 5))
        want_header, want_rows = _expected(data)
        header, got_rows, short = _read(path)
        assert header == want_header, data
        assert [line for _, line in got_rows] == [line for _, line in want_rows], data
        assert all(_same_row(got, want) for (got, _), (want, _) in zip(got_rows, want_rows)), data
        assert [r for r in short if any(r)] == [r for r, _ in want_rows if len(r) < width and any(r)], data


def test_not_utf8_names_the_byte_of_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_chunks, "BLOCK", 8)
    path = tmp_path / "f.csv"
    path.write_bytes(b"gen_id\nd_1\nd_2\nd_3\n\xff\n")
    with pytest.raises(csv_chunks.CsvProblem, match=r"not UTF-8 \(byte 19\)"):
        list(csv_chunks.read(str(path)))


def test_nul_and_an_unclosed_quote_read_as_the_csv_module_reads_them(tmp_path):
    for data in (b"gen_id\nd_\x001\n", b'gen_id,x\n"d_1,\n' + b"y" * 10 + b"\n"):
        path = tmp_path / "f.csv"
        path.write_bytes(data)
        header, rows, _ = _read(path)
        want_header, want_rows = _expected(data)
        assert header == want_header and len(rows) == len(want_rows) == 1
        assert _same_row(rows[0][0], want_rows[0][0])


def test_a_line_longer_than_the_field_limit_is_a_problem(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_chunks, "BLOCK", 8)
    monkeypatch.setattr(csv_chunks, "MAX_FIELD", 64)
    path = tmp_path / "f.csv"
    path.write_bytes(b"gen_id\nd_1\n" + b"x" * 200)
    limit = csv.field_size_limit()  # read() sets the csv module's limit, which is global
    try:
        with pytest.raises(csv_chunks.CsvProblem, match="a line longer than"):
            list(csv_chunks.read(str(path)))
    finally:
        csv.field_size_limit(limit)


def test_a_cell_over_the_field_limit_is_a_problem_quoted_or_not(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_chunks, "MAX_FIELD", 64)
    limit = csv.field_size_limit()
    try:
        for cell in (b"x" * 100, b'"' + b"x" * 100 + b'"'):
            path = tmp_path / "f.csv"
            path.write_bytes(b"gen_id,note\nd_1," + cell + b"\n")
            with pytest.raises(csv_chunks.CsvProblem, match="field larger than field limit"):
                list(csv_chunks.read(str(path)))
    finally:
        csv.field_size_limit(limit)
