"""A tiny document model (headings, paragraphs, tables, images) rendered twice: Markdown with the
images as PNG files beside it, and one self-contained HTML file with the images embedded."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

from dfard_pipeline.atomic import atomic_path, write_text_atomic

CSS = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
       "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
       "th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.pass{color:#070;font-weight:bold}"
       ".fail{color:#b00;font-weight:bold}img{max-width:100%}")


@dataclass
class Document:
    title: str
    blocks: list[tuple] = field(default_factory=list)

    def heading(self, text: str) -> None:
        self.blocks.append(("h", text))

    def paragraph(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, header: list[str], rows: list[list]) -> None:
        self.blocks.append(("table", header, rows))

    def image(self, name: str, png: bytes, alt: str) -> None:
        self.blocks.append(("img", name, png, alt))

    def write(self, folder: Path) -> list[Path]:
        """report.md (+ report_files/*.png) and report.html; returns the paths written."""
        images = folder / "report_files"
        images.mkdir(parents=True, exist_ok=True)
        md, body, written = [f"# {self.title}", ""], [f"<h1>{html.escape(self.title)}</h1>"], []
        for block in self.blocks:
            kind = block[0]
            if kind == "h":
                md += [f"## {block[1]}", ""]
                body.append(f"<h2>{html.escape(block[1])}</h2>")
            elif kind == "p":
                md += [block[1], ""]
                body.append(f"<p>{html.escape(block[1])}</p>")
            elif kind == "table":
                header, rows = block[1], block[2]
                md += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
                md += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows] + [""]
                cells = "".join(f"<th>{html.escape(h)}</th>" for h in header)
                body.append(f"<table><tr>{cells}</tr>" + "".join(
                    "<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows) + "</table>")
            else:
                _, name, png, alt = block
                with atomic_path(images / name) as tmp:
                    tmp.write_bytes(png)
                written.append(images / name)
                md += [f"![{alt}](report_files/{name})", ""]
                body.append(f'<img alt="{html.escape(alt)}" src="data:image/png;base64,'
                            f'{base64.b64encode(png).decode()}">')
        page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
                f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>\n")
        written += [write_text_atomic(folder / "report.md", "\n".join(md)),
                    write_text_atomic(folder / "report.html", page)]
        return written


def _cell(value) -> str:
    text = str(value)
    css = " class='pass'" if text == "PASS" else " class='fail'" if text in ("FAIL", "**FAIL**") else ""
    return f"<td{css}>{html.escape(text.strip('*'))}</td>"
