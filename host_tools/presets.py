"""Choosing a preset by number or name on the command line (``sim --preset``, ``bridge --preset``)."""


class PresetChoiceError(ValueError):
    """The config has no such preset; the text names the presets it has."""


def preset_index(choice, names):
    """``choice`` (a 1-based number, or a preset's name: the first of that name) -> 0-based index
    into ``names``."""
    if choice.strip().isdigit():
        index = int(choice) - 1
        if not 0 <= index < len(names):
            raise PresetChoiceError("--preset %s: the config has %d preset%s"
                                    % (choice, len(names), "" if len(names) == 1 else "s"))
        return index
    if choice in names:
        return names.index(choice)
    raise PresetChoiceError("--preset %r: no preset of that name (presets: %s)"
                            % (choice, ", ".join(repr(n) for n in names)))
