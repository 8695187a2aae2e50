"""`smlint image --dockerfile`: the map from image facts to Dockerfile lines
reads the Dockerfile with the one parser (heredocs, `# escape=`)."""
from __future__ import annotations

import pytest

from smlint.image.dockerfile_map import DockerfileMap


def write(tmp_path, text):
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    return str(path)


def test_heredoc_and_escape_directive_map_to_their_instructions(tmp_path):
    text = ("# escape=`\nFROM busybox AS build\nRUN true\nFROM busybox\n"
            "RUN <<EOF\necho one \\\nEOF\nCOPY a `\n  /a\nUSER 1000\n")
    mapping = DockerfileMap.read(write(tmp_path, text))
    assert [step.keyword for step in mapping.stage] == ["FROM", "RUN", "COPY", "USER"]
    assert (mapping.last("USER").line, mapping.last("COPY").line, mapping.last("COPY").end_line) == (10, 8, 9)
    assert mapping.layer(1, 3).line == 5  # the heredoc RUN made the next-to-last layer
    assert mapping.layer(2, 3).line == 8
    assert mapping.layer(0, 3).line == 4  # older layers came with FROM


def test_a_file_the_parser_refuses_cannot_be_used(tmp_path):
    with pytest.raises(ValueError):
        DockerfileMap.read(write(tmp_path, "RUN true\n"))
    with pytest.raises(ValueError, match="NUL"):
        DockerfileMap.read(write(tmp_path, "FROM a\0\n"))
