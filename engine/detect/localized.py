"""Error messages printed in another language, rewritten into the English the rules read.

PostgreSQL answers in the language of its ``lc_messages`` and Odoo raises its
own messages in the user's language, so a report from a French or Italian
install says "la relation « x » n'existe pas" or "Il campo `x` non esiste"
where the guardrails look for ``relation "x" does not exist`` and
``Field `x` does not exist``. Each entry below pairs an English message with
its translations as the PostgreSQL 15 server catalogs (``postgres-15.mo``)
and the Odoo 18.0 ``base`` catalogs (``odoo/addons/base/i18n/*.po``) hold
them; only messages some guardrail reads are listed. ``{0}``, ``{1}`` mark
the values (names, keys), numbered as in the English message. A translation
whose plain text before its first value is very short is left out (the
Japanese "key ... already exists" starts with two letters): every occurrence
of those letters would start the scan of a value.

Older releases quoted the values differently (backquotes for double quotes,
no spaces around CJK names), so a quote of a translation matches any quote
(a backquote only a backquote), and spaces are optional. Values stay on one line and are at
most ``MAX_VALUE`` characters: matching is linear in the text.
"""

import re

MAX_VALUE = 120

# (English, {language: translation}) of PostgreSQL's messages, the longer of two
# that share words first (a column "of relation" before a relation).
_POSTGRES = (
    (
        'column "{0}" of relation "{1}" does not exist',
        {
            "de": "Spalte »{0}« von Relation »{1}« existiert nicht",
            "es": "no existe la columna «{0}» en la relación «{1}»",
            "fr": "la colonne « {0} » de la relation « {1} » n'existe pas",
            "it": 'la colonna "{0}" della relazione "{1}" non esiste',
            "ja": 'リレーション"{1}"の列"{0}"は存在しません',
            "ru": 'столбец "{0}" в таблице "{1}" не существует',
            "zh_CN": '关系 "{1}" 的 "{0}" 字段不存在',
        },
    ),
    (
        'relation "{0}" does not exist',
        {
            "de": "Relation »{0}« existiert nicht",
            "es": "no existe la relación «{0}»",
            "fr": "la relation « {0} » n'existe pas",
            "it": 'la relazione "{0}" non esiste',
            "ja": 'リレーション"{0}"は存在しません',
            "ru": 'отношение "{0}" не существует',
            "zh_CN": '关系 "{0}" 不存在',
        },
    ),
    (
        'column "{0}" does not exist',
        {
            "de": "Spalte »{0}« existiert nicht",
            "es": "no existe la columna «{0}»",
            "fr": "la colonne « {0} » n'existe pas",
            "it": 'la colonna "{0}" non esiste',
            "ja": '列"{0}"は存在しません',
            "ru": 'столбец "{0}" не существует',
            "zh_CN": '字段 "{0}" 不存在',
        },
    ),
    (
        'duplicate key value violates unique constraint "{0}"',
        {
            "de": "doppelter Schlüsselwert verletzt Unique-Constraint »{0}«",
            "es": "llave duplicada viola restricción de unicidad «{0}»",
            "fr": "la valeur d'une clé dupliquée rompt la contrainte unique « {0} »",
            "it": 'un valore chiave duplicato viola il vincolo univoco "{0}"',
            "ja": '重複したキー値は一意性制約"{0}"違反となります',
            "ru": 'повторяющееся значение ключа нарушает ограничение уникальности "{0}"',
            "zh_CN": '重复键违反唯一约束"{0}"',
        },
    ),
    (
        "Key {0} already exists.",
        {
            "de": "Schlüssel »{0}« existiert bereits.",
            "es": "Ya existe la llave {0}.",
            "fr": "La clé « {0} » existe déjà.",
            "it": "La chiave {0} esiste già.",
            "ru": 'Ключ "{0}" уже существует.',
            "zh_CN": '键值"{0}" 已经存在',
        },
    ),
    (
        "could not serialize access due to concurrent update",
        {
            "de": "konnte Zugriff nicht serialisieren wegen gleichzeitiger Aktualisierung",
            "es": "no se pudo serializar el acceso debido a un update concurrente",
            "fr": "n'a pas pu sérialiser un accès à cause d'une mise à jour en parallèle",
            "it": "serializzazione dell'accesso fallita a causa di modifiche concorrenti",
            "ja": "更新が同時に行われたためアクセスの直列化ができませんでした",
            "ru": "не удалось сериализовать доступ из-за параллельного изменения",
            "zh_CN": "由于同步更新而无法串行访问",
        },
    ),
    (
        'could not obtain lock on row in relation "{0}"',
        {
            "de": "konnte Sperre für Zeile in Relation »{0}« nicht setzen",
            "es": "no se pudo bloquear un candado en la fila de la relación «{0}»",
            "fr": "n'a pas pu obtenir un verrou sur la relation « {0} »",
            "it": 'lock di riga nella relazione "{0}" fallito',
            "ja": 'リレーション"{0}"の行ロックを取得できませんでした',
            "ru": 'не удалось получить блокировку строки в таблице "{0}"',
            "zh_CN": '无法在关系 "{0}"中的记录上获得锁',
        },
    ),
    (
        "canceling statement due to lock timeout",
        {
            "de": "storniere Anfrage wegen Zeitüberschreitung einer Sperre",
            "es": "cancelando la sentencia debido a que se agotó el tiempo de espera de candados (locks)",
            "fr": "annulation de la requête à cause du délai écoulé pour l'obtention des verrous",
            "it": "annullamento dell'istruzione a causa di timeout di lock",
            "ja": "ロックのタイムアウトのためステートメントをキャンセルしています",
            "ru": "выполнение оператора отменено из-за тайм-аута блокировки",
            "zh_CN": "由于锁超时，取消语句操作",
        },
    ),
    (
        "deadlock detected",
        {
            "de": "Verklemmung (Deadlock) entdeckt",
            "es": "se ha detectado un deadlock",
            "fr": "interblocage (deadlock) détecté",
            "it": "rilevato deadlock",
            "ja": "デッドロックを検出しました",
            "ru": "обнаружена взаимоблокировка",
            "zh_CN": "检测到死锁",
        },
    ),
)

# (English, {language: translation}) of Odoo's messages (the wording of 18.0).
_ODOO = (
    (
        'Field "{0}" does not exist in model "{1}"',
        {
            "de": "Das Feld „{0}“ existiert nicht im Modell „{1}“",
            "es": 'El campo "{0}" no existe en el modelo "{1}"',
            "fr": 'Le champ "{0}" n\'existe pas dans le modèle "{1}"',
            "it": 'Il campo "{0}" non esiste nel modello "{1}"',
            "nl": 'Veld "{0}" bestaat niet in model "{1}"',
            "pt_BR": 'O campo "{0}" não existe no modelo "{1}"',
            "zh_CN": '字段"{0}"不存在于模型"{1}"中',
        },
    ),
    (
        "Field `{0}` does not exist",
        {
            "de": "Feld „{0}“ existiert nicht",
            "es": "El campo `{0}` no existe",
            "fr": "Le champ `{0}` n'existe pas",
            "it": 'Il campo "{0}" non esiste',
            "nl": "Veld '{0}' bestaat niet",
            "pt_BR": "O campo '{0}' não existe",
            "zh_CN": "字段 `{0}` 不存在",
        },
    ),
    (
        "Element '{0}' cannot be located in parent view",
        {
            "de": "Element „{0}“ kann nicht in der übergeordneten Ansicht lokalisiert werden.",
            "es": "El elemento '{0}' no puede ser localizado en la vista padre",
            "fr": "L'élément '{0}' ne peut être localisé dans la vue parente",
            "it": "L'elemento '{0}' non può esser localizzato nella vista genitore",
            "nl": "Element '{0}' kan niet worden gevonden in de bovenliggende weergave",
            "pt_BR": "O elemento '{0}' não pode ser localizado na visualização principal",
            "zh_CN": "上级视图内找不到元素“{0}”",
        },
    ),
    (
        'Unknown field "{0}" in',
        {
            "de": "Unbekanntes Feld „{0}“ in",
            "es": 'Campo desconocido "{0}" en',
            "fr": 'Champ inconnu "{0}" dans',
            "it": 'Campo sconosciuto "{0}" in',
            "nl": 'Onbekend veld "{0}" in',
            "pt_BR": 'Campo desconhecido "{0}" em',
        },
    ),
    (
        "No matching record found for {0} '{1}' in field '{2}'",
        {
            "de": "Kein passender Datensatz für {0} „{1}“ in Feld „{2}“ gefunden",
            "es": "No se han encontrado registros coincidentes para {0} '{1}' en el campo '{2}'",
            "fr": "Aucun enregistrement trouvé pour {0} '{1}' dans le champ '{2}'",
            "it": "Nessun record trovato per {0} '{1}' nel campo '{2}'",
            "nl": "Geen overeenkomende records gevonden voor {0} '{1}' in veld '{2}'",
            "pt_BR": "Nenhum registro encontrado para {0} '{1}' no campo '{2}'",
        },
    ),
    (
        "Record does not exist or has been deleted.",
        {
            "de": "Datensatz existiert nicht oder kann nicht gefunden werden.",
            "es": "El registro no existe o ha sido eliminado.",
            "fr": "Enregistrement inexistant ou supprimé.",
            "it": "Il record non esiste o è stato eliminato.",
            "nl": "Regel bestaat niet of werd verwijderd.",
            "pt_BR": "O registro não existe ou foi excluído.",
            "zh_CN": "记录不存在或已删除。",
        },
    ),
)

# The field type Odoo names in "No matching record found for ...", as translated.
_EXTERNAL_ID_WORDS = {"id. externo": "external id", "identifiant externe": "external id", "id esterno": "external id"}

# PostgreSQL's severity labels, at the start of a line or after the exception name.
_SEVERITIES = {
    "ERREUR": "ERROR",
    "FEHLER": "ERROR",
    "ERRORE": "ERROR",
    "ОШИБКА": "ERROR",
    "错误": "ERROR",
    "DÉTAIL": "DETAIL",
    "DETALLE": "DETAIL",
    "DETTAGLI": "DETAIL",
    "ПОДРОБНОСТИ": "DETAIL",
    "详细信息": "DETAIL",
}
_SEVERITY = re.compile(
    r"(?:^|(?<=Error: )|(?<=Violation: )|(?<=Table: )|(?<=Column: ))(?P<label>"
    + "|".join(map(re.escape, _SEVERITIES))
    + r") ?:",
    re.M,
)

_QUOTES = "\"'`“”„«»‘’‚‹›"
_PLACEHOLDER = re.compile(r"\{(\d)\}")
_ANY_QUOTE = f"[{_QUOTES}]"


def _compile(translation):
    """(needle, regex) of one translation: its longest plain piece and its pattern.

    A backquote must stay a backquote (Odoo quotes field names with it, which tells
    its "Field `x` does not exist" from PostgreSQL's column message in Chinese); any
    other quote matches any quote. Spaces are optional, a value may be empty.
    """
    parts = _PLACEHOLDER.split(translation)  # text, index, text, index, ..., text
    pattern = []
    pieces = []
    for position, part in enumerate(parts):
        if position % 2:
            last = position == len(parts) - 2 and not parts[-1]
            stop = r"\s" if last else r"\n"
            pattern.append(f"(?P<v{part}>[^{stop}{_QUOTES}]{{0,{MAX_VALUE}}}{'' if last else '?'})")
            continue
        pieces.extend(piece.strip() for piece in re.split(_ANY_QUOTE, part) if piece.strip())
        for char in part:
            if char == "`":
                pattern.append("`")
            elif char in _QUOTES:
                pattern.append(_ANY_QUOTE)
            elif char == " ":
                pattern.append("[ \u00a0]?")
            else:
                pattern.append(re.escape(char))
    return max(pieces, key=len), re.compile("".join(pattern))


def _entries():
    entries = []
    # Odoo's first: its Chinese field message is PostgreSQL's column message with backquotes.
    for english, translations in _ODOO + _POSTGRES:
        for translation in translations.values():
            needle, regex = _compile(translation)
            entries.append((needle, regex, english))
    return tuple(entries)


_ENTRIES = _entries()
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# Most translations carry a letter outside ASCII: they are looked for only in a text
# that holds their needle's first such letter; the others are looked for in every text.
_ASCII_ENTRIES = tuple(entry for entry in _ENTRIES if entry[0].isascii())
_WIDE_ENTRIES = {}
for _entry in _ENTRIES:
    if not _entry[0].isascii():
        _WIDE_ENTRIES.setdefault(_NON_ASCII.search(_entry[0]).group(), []).append(_entry)
# Shorter texts are searched whole: selecting their lines costs more than it saves.
_PROBE_ALL_BELOW = 400


def _english(english):
    def replace(match):
        values = {int(name[1:]): value.strip() for name, value in match.groupdict().items() if value is not None}
        text = english
        for index, value in values.items():
            text = text.replace("{%d}" % index, _EXTERNAL_ID_WORDS.get(value, value))
        return text

    return replace


def to_english(text):
    """``text`` with the listed translated messages put back in English.

    The severity labels before a translated PostgreSQL message ("ERREUR:",
    "DÉTAIL :") become "ERROR:" and "DETAIL:" too.
    """
    entries = _ASCII_ENTRIES
    if not text.isascii():
        wide = [_WIDE_ENTRIES.get(char, ()) for char in set(_NON_ASCII.findall(text))]
        # Keep the table's order: a longer message goes before a shorter one it contains.
        chosen = {id(entry) for group in wide for entry in group}
        entries = [entry for entry in _ENTRIES if entry[0].isascii() or id(entry) in chosen] if chosen else entries
    # Messages sit on unindented lines; the indented frames and source lines, most of a
    # traceback, are not searched for them.
    probe = text
    if len(text) > _PROBE_ALL_BELOW and "\n " in text:
        probe = "\n".join(line for line in text.split("\n") if line[:1] not in (" ", "\t"))
    translated = False
    present = {}
    for needle, regex, english in entries:
        found = present.get(needle)
        if found is None:
            found = present[needle] = needle in probe
        if found:
            text, count = regex.subn(_english(english), text)
            translated = translated or bool(count)
    if translated:
        text = _SEVERITY.sub(lambda match: _SEVERITIES[match.group("label")] + ":", text)
    return text
