"""The person's settings: language and name, kept in the config folder."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from model import sessionfile
from tui.paths import config_dir


@dataclass
class Settings:
    lang: str = ""  # "" follows the locale
    name: str = ""

    @classmethod
    def load(cls) -> Settings:
        try:
            data = json.loads((config_dir() / "settings.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        return cls(lang=str(data.get("lang", "")), name=str(data.get("name", "")))

    def save(self) -> None:
        sessionfile.write_atomic(config_dir() / "settings.json",
                                 json.dumps(asdict(self), ensure_ascii=False).encode())
