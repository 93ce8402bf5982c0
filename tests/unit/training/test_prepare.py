"""prepare_dbpedia and prepare_labeled_text: CSV in, normalized __label__ lines out."""

from __future__ import annotations

import pytest

from openclarify.errors import DataError
from openclarify.training import prepare_dbpedia, prepare_labeled_text

CLASSES = "Company\nEducationalInstitution\nArtist\n"
DBPEDIA = (
    '1,"E. Tautz & Sons","E. Tautz & Sons is a tailoring company, founded in 1867."\n'
    '3,"Gustav ""Gus"" Smith","An artist, painter; and ""sculptor"" (born 1900)."\n'
    "\n"
    '2,"Multi\nLine","A school\nwith a line break, in the content."\n'
    '1,"",""\n'
)


@pytest.fixture
def dbpedia(tmp_path):
    (tmp_path / "classes.txt").write_text(CLASSES)
    (tmp_path / "train.csv").write_text(DBPEDIA)
    return tmp_path


def test_prepare_dbpedia(dbpedia):
    res = prepare_dbpedia(dbpedia / "train.csv", dbpedia / "classes.txt", dbpedia / "out" / "dbpedia.train")
    assert (dbpedia / "out" / "dbpedia.train").read_text().splitlines() == [
        "__label__Company e . tautz & sons e . tautz & sons is a tailoring company , founded in 1867 .",
        '__label__Artist gustav " gus " smith an artist , painter ; and " sculptor " ( born 1900 ) .',
        "__label__EducationalInstitution multi line a school with a line break , in the content .",
        "__label__Company ",
    ]
    assert res.n_lines == 4
    assert res.label_counts == (("Company", 2), ("Artist", 1), ("EducationalInstitution", 1))
    assert [p.name for p in (dbpedia / "out").iterdir()] == ["dbpedia.train"]


@pytest.mark.parametrize(
    ("csv_text", "pattern"),
    [
        pytest.param(
            '1,"a","b"\n4,"x","y"\n', r"line 2: the class index must be an integer from 1 to 3.*got '4'", id="big"
        ),
        pytest.param('0,"x","y"\n', r"line 1: .*got '0'", id="zero"),
        pytest.param('Company,"x","y"\n', r"line 1: .*got 'Company'", id="name"),
        pytest.param(
            '1,"a","b"\n2,"x,y"\n', r"line 2: expected 3 fields \(class index, title, content\); got 2", id="few"
        ),
        pytest.param('1,"a\nb","c"\n2,x,y,z\n', "line 3: expected 3 fields .*got 4", id="many-after-multiline"),
        pytest.param("", "no rows; got an empty file", id="empty"),
    ],
)
def test_prepare_dbpedia_errors(dbpedia, csv_text, pattern):
    (dbpedia / "bad.csv").write_text(csv_text)
    with pytest.raises(DataError, match=pattern):
        prepare_dbpedia(dbpedia / "bad.csv", dbpedia / "classes.txt", dbpedia / "out.txt")
    assert not (dbpedia / "out.txt").exists()
    assert not [p for p in dbpedia.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    ("classes", "pattern"),
    [
        pytest.param(None, "classes '.*': file not found", id="missing"),
        pytest.param("A\n\nB\n", "line 2: empty class name", id="blank-line"),
        pytest.param("\n", "no class names", id="empty"),
    ],
)
def test_prepare_dbpedia_bad_classes(dbpedia, classes, pattern):
    (dbpedia / "classes.txt").unlink()
    if classes is not None:
        (dbpedia / "classes.txt").write_text(classes)
    with pytest.raises(DataError, match=pattern):
        prepare_dbpedia(dbpedia / "train.csv", dbpedia / "classes.txt", dbpedia / "out.txt")


def test_prepare_dbpedia_missing_input(dbpedia):
    with pytest.raises(DataError, match="input '.*nope.csv': file not found"):
        prepare_dbpedia(dbpedia / "nope.csv", dbpedia / "classes.txt", dbpedia / "out.txt")


def test_prepare_labeled_text(tmp_path):
    (tmp_path / "reviews.csv").write_text(
        'id,Review Text,Class Name\n1,"Great, FIT!\nLove it",Dresses\n2,,Knit Tops\n3,"So-so.",Dresses\n'
    )
    res = prepare_labeled_text(
        tmp_path / "reviews.csv", tmp_path / "out.txt", text_column="Review Text", label_column="Class Name"
    )
    assert (tmp_path / "out.txt").read_text().splitlines() == [
        "__label__Dresses great , fit ! love it",
        "__label__Knit_Tops ",
        "__label__Dresses so - so .",
    ]
    assert res.label_counts == (("Dresses", 2), ("Knit_Tops", 1))
    prepare_labeled_text(
        tmp_path / "reviews.csv",
        tmp_path / "raw.txt",
        text_column="Review Text",
        label_column="Class Name",
        text_normalization="none",
    )
    assert (tmp_path / "raw.txt").read_text().splitlines()[0] == "__label__Dresses Great, FIT! Love it"


@pytest.mark.parametrize(
    ("text_column", "label_column", "csv_text", "pattern"),
    [
        pytest.param("text", "y", "text,label\na,b\n", r"label_column: no column 'y'.*\['text', 'label'\]", id="col"),
        pytest.param(
            "text", "label", "text,label\na,b\nc,\n", "row 2 .*the label in column 'label' is empty", id="empty"
        ),
    ],
)
def test_prepare_labeled_text_errors(tmp_path, text_column, label_column, csv_text, pattern):
    (tmp_path / "in.csv").write_text(csv_text)
    with pytest.raises(DataError, match=pattern):
        prepare_labeled_text(
            tmp_path / "in.csv", tmp_path / "out.txt", text_column=text_column, label_column=label_column
        )
