"""The answer of an exercise check: what is right, what is missing, a hint; as HTML in JupyterLab, text elsewhere."""

from __future__ import annotations

import html
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Verdict:
    """One check of one exercise against the live cluster. ``ok`` when nothing is missing."""

    exercise: str
    title: str
    right: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    hint: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.missing

    @property
    def headline(self) -> str:
        return f"{self.exercise}: {'right' if self.ok else 'not done yet'}: {self.title}"

    def __str__(self) -> str:
        lines = [self.headline]
        lines += [f"  right    {item}" for item in self.right]
        lines += [f"  missing  {item}" for item in self.missing]
        lines += [f"  note     {item}" for item in self.notes]
        if not self.ok and self.hint:
            lines.append(f"  hint     {self.hint}")
        return "\n".join(lines)

    def __repr__(self) -> str:  # the plain-text form of a headless run
        return str(self)

    def __bool__(self) -> bool:
        return self.ok

    def _repr_html_(self) -> str:
        colour, mark = ("#15803d", "&#10003;") if self.ok else ("#b45309", "&#9675;")
        items = "".join(f'<li style="color:#15803d">&#10003; {html.escape(r)}</li>' for r in self.right)
        items += "".join(f'<li style="color:#b91c1c">&#10007; {html.escape(m)}</li>' for m in self.missing)
        items += "".join(f'<li style="color:#374151">&#8226; {html.escape(n)}</li>' for n in self.notes)
        hint = (f'<div style="margin-top:4px"><b>Hint:</b> {html.escape(self.hint)}</div>'
                if not self.ok and self.hint else "")
        return (f'<div style="border:1px solid {colour};border-left:6px solid {colour};border-radius:6px;'
                f'padding:6px 10px;margin:4px 0;font-family:sans-serif;font-size:13px">'
                f'<div style="font-weight:bold;color:{colour}">{mark} {html.escape(self.exercise)}: '
                f'{"right" if self.ok else "not done yet"}</div><div>{html.escape(self.title)}</div>'
                f'<ul style="margin:4px 0 0 0;padding-left:18px;list-style:none">{items}</ul>{hint}</div>')
