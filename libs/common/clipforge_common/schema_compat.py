"""FULL compatibility check between two JSON Schemas of the same event type and major version.

Inside a major version both directions must keep working, because topics hold events forever and
services are upgraded one at a time:

* backward: a reader built on the new schema reads every old record (replay, slow upgrades);
* forward: a reader still on the old schema reads every new record (the producer upgraded first).

So a change may neither narrow nor widen the set of values a field accepts. The only changes allowed
are annotation edits (title, description, examples, default, ``$comment``, ``x-*``) and adding an
OPTIONAL property to an object whose old schema allows unknown properties (old readers ignore it,
new readers do without it). Everything else is reported, for example:

* a property removed (required or optional: old records still carry it, and a later re-add with
  another type would slip through unseen) or a property added as required;
* a property becoming required or no longer required;
* a type changed, added or dropped, including ``null`` (nullable removed or added);
* enum values removed **or added** (an old reader rejects a value it does not know), ``const``
  changed, added or removed; ``format`` changed; any bound changed (minimum, maxLength, pattern…);
* ``additionalProperties`` tightened to false, or loosened from false, or its schema changed;
* array ``items``/``prefixItems`` changes;
* any other validation keyword whose value changed (unknown keywords are compared verbatim).

``$ref`` into ``$defs`` (or any local JSON pointer) is resolved in each schema's own document and
compared recursively; recursive definitions are compared once. Unions (``anyOf``/``oneOf``/``type``
lists) are compared per JSON type.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

JSON_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
ANY = "any"  # a branch without a type constraint: accepts every value

# Keywords that never change which records validate.
ANNOTATIONS = frozenset(
    {
        "$comment",
        "$id",
        "$schema",
        "$anchor",
        "$defs",
        "definitions",
        "title",
        "description",
        "examples",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
        "contentMediaType",
        "contentEncoding",
        "discriminator",
    }
)
# Keywords compared structurally below; everything else that is not an annotation is compared verbatim.
_STRUCTURAL = frozenset(
    {
        "type",
        "anyOf",
        "oneOf",
        "allOf",
        "$ref",
        "enum",
        "const",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "prefixItems",
    }
)
_MISSING = object()


def compatibility_errors(old_schema: dict[str, Any], new_schema: dict[str, Any]) -> list[str]:
    """Every FULL-compatibility violation going from ``old_schema`` to ``new_schema`` (empty: fine)."""
    checker = _Checker(old_schema, new_schema)
    checker.compare(old_schema, new_schema, "")
    # Order of discovery follows sorted property names, so the output is deterministic.
    return list(dict.fromkeys(checker.errors))


def _show(value: Any) -> str:
    if value is _MISSING:
        return "(none)"
    return json.dumps(value, sort_keys=True)


def _label(path: str) -> str:
    return path or "(root)"


def _is_annotation(key: str) -> bool:
    return key in ANNOTATIONS or key.startswith("x-")


def _type_of_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@dataclass
class _Branch:
    """One alternative of a (possibly union) schema, restricted to a single JSON type."""

    type: str
    schema: dict[str, Any]
    refs: tuple[str, ...] = ()


@dataclass
class _Checker:
    old_root: dict[str, Any]
    new_root: dict[str, Any]
    errors: list[str] = field(default_factory=list)
    _seen: set[tuple[str, str]] = field(default_factory=set)

    # ----------------------------------------------------------------------------- resolution

    @staticmethod
    def _pointer(root: dict[str, Any], ref: str) -> dict[str, Any] | bool:
        if not ref.startswith("#"):
            raise ValueError(f"only local $ref are supported, got {ref!r}")
        node: Any = root
        for part in [p for p in ref[1:].split("/") if p]:
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, list):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                raise ValueError(f"$ref {ref!r} does not resolve")
        if not isinstance(node, dict | bool):
            raise ValueError(f"$ref {ref!r} is not a schema")
        return node

    def _resolve(self, root: dict[str, Any], schema: Any, refs: tuple[str, ...] = ()) -> tuple[Any, tuple[str, ...]]:
        """Follow ``$ref`` (keeping sibling keywords, as 2020-12 does); return the schema and the refs taken."""
        while isinstance(schema, dict) and "$ref" in schema:
            ref = schema["$ref"]
            if ref in refs:  # a cycle through refs alone accepts nothing new; stop here
                break
            target = self._pointer(root, ref)
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            if target is True:
                target = {}
            elif target is False:
                target = {"not": {}}
            schema = {**target, **siblings}
            refs = (*refs, ref)
        return schema, refs

    def _branches(self, root: dict[str, Any], schema: Any, refs: tuple[str, ...] = ()) -> list[_Branch]:
        """Flatten refs, ``allOf`` merges, ``anyOf``/``oneOf`` and ``type`` lists into one branch per type."""
        if schema is True or schema == {}:
            return [_Branch(ANY, {}, refs)]
        if schema is False:
            return []
        schema, refs = self._resolve(root, schema, refs)
        if "allOf" in schema:
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                part, _ = self._resolve(root, part, refs)
                merged = _merge(merged, part)
            return self._branches(root, merged, refs)
        for union in ("anyOf", "oneOf"):
            if union in schema:
                # A sibling keyword applies to every alternative: (S and (A or B)) = (S and A) or (S and B).
                shared = {k: v for k, v in schema.items() if k != union and not _is_annotation(k)}
                out: list[_Branch] = []
                for alternative in schema[union]:
                    alt, alt_refs = self._resolve(root, alternative, refs)
                    if alt is True:
                        alt = {}
                    out.extend(self._branches(root, _merge(shared, alt) if shared else alt, alt_refs))
                return out
        return self._split_types(schema, refs)

    @staticmethod
    def _split_types(schema: dict[str, Any], refs: tuple[str, ...]) -> list[_Branch]:
        declared = schema.get("type")
        if isinstance(declared, str):
            types = [declared]
        elif isinstance(declared, list):
            types = list(declared)
        elif "const" in schema:
            types = [_type_of_value(schema["const"])]
        elif "enum" in schema:
            types = list(dict.fromkeys(_type_of_value(v) for v in schema["enum"]))
        elif "properties" in schema or "additionalProperties" in schema or "required" in schema:
            types = ["object"]
        elif "items" in schema or "prefixItems" in schema:
            types = ["array"]
        else:
            return [_Branch(ANY, schema, refs)]
        out = []
        for t in types:
            branch = {k: v for k, v in schema.items() if k != "type"}
            # An enum spanning several types keeps, per branch, only the values of that branch's type.
            if "enum" in branch:
                branch["enum"] = [v for v in branch["enum"] if _value_has_type(v, t)]
            out.append(_Branch(t, branch, refs))
        return out

    # ------------------------------------------------------------------------------ comparison

    def _error(self, path: str, message: str) -> None:
        self.errors.append(f"{_label(path)}: {message}")

    def compare(self, old: Any, new: Any, path: str) -> None:
        old_branches = self._branches(self.old_root, old)
        new_branches = self._branches(self.new_root, new)
        old_by_type = _group(old_branches)
        new_by_type = _group(new_branches)

        if ANY in old_by_type or ANY in new_by_type:
            self._compare_any(old_by_type, new_by_type, path)
            return

        old_types, new_types = set(old_by_type), set(new_by_type)
        if "null" in old_types and "null" not in new_types:
            self._error(path, "no longer nullable (old records may hold null)")
        if "null" in new_types and "null" not in old_types:
            self._error(path, "became nullable (old readers reject null)")
        old_main, new_main = old_types - {"null"}, new_types - {"null"}
        if old_main != new_main:
            if len(old_main) == 1 and len(new_main) == 1:
                self._error(path, f"type changed from {next(iter(old_main))} to {next(iter(new_main))}")
            else:
                for t in sorted(old_main - new_main):
                    self._error(path, f"type {t} no longer accepted (old records may hold it)")
                for t in sorted(new_main - old_main):
                    self._error(path, f"type {t} now accepted (old readers reject it)")
        for t in sorted(old_types & new_types, key=_type_rank):
            olds, news = old_by_type[t], new_by_type[t]
            if len(olds) != len(news):
                self._error(path, f"union alternatives of type {t} changed from {len(olds)} to {len(news)}")
                continue
            for i, (o, n) in enumerate(zip(olds, news, strict=True)):
                sub = path if len(olds) == 1 else f"{path}<{t} #{i + 1}>"
                self._compare_branch(o, n, sub)

    def _compare_any(
        self, old_by_type: dict[str, list[_Branch]], new_by_type: dict[str, list[_Branch]], path: str
    ) -> None:
        old_any, new_any = ANY in old_by_type, ANY in new_by_type
        if old_any and not new_any:
            self._error(path, f"narrowed from any value to {'|'.join(sorted(new_by_type))}")
            return
        if new_any and not old_any:
            self._error(path, f"widened from {'|'.join(sorted(old_by_type))} to any value (old readers reject others)")
            return
        # Both untyped: their remaining validation keywords must match.
        self._compare_other_keywords(old_by_type[ANY][0].schema, new_by_type[ANY][0].schema, path)

    def _compare_branch(self, old: _Branch, new: _Branch, path: str) -> None:
        if old.refs and new.refs:
            # Recursive $defs (a tree of nodes) meet themselves again: compare each pairing of
            # definitions once. The resolved text is part of the key because siblings of $ref apply.
            key = (_canonical(old.schema), _canonical(new.schema))
            if key in self._seen:
                return
            self._seen.add(key)
        o, n = old.schema, new.schema
        self._compare_values(o, n, path)
        if old.type == "object":
            self._compare_object(o, n, path)
        elif old.type == "array":
            self._compare_array(o, n, path)
        self._compare_other_keywords(o, n, path)

    def _compare_values(self, o: dict[str, Any], n: dict[str, Any], path: str) -> None:
        """``const``/``enum``: the set of allowed values must stay exactly the same."""
        old_values, new_values = _allowed_values(o), _allowed_values(n)
        if old_values is None and new_values is None:
            return
        if old_values is None:
            self._error(path, f"restricted to {_show_values(new_values)} (old records may hold other values)")
            return
        if new_values is None:
            self._error(path, f"no longer restricted to {_show_values(old_values)} (old readers reject other values)")
            return
        if "const" in o and "const" in n and o["const"] != n["const"]:
            self._error(path, f"const changed from {_show(o['const'])} to {_show(n['const'])}")
            return
        removed = [v for k, v in old_values.items() if k not in new_values]
        added = [v for k, v in new_values.items() if k not in old_values]
        if removed:
            self._error(path, f"enum values removed: {_show(removed)} (old records may hold them)")
        if added:
            self._error(path, f"enum values added: {_show(added)} (old readers reject them)")

    def _compare_object(self, o: dict[str, Any], n: dict[str, Any], path: str) -> None:
        old_props: dict[str, Any] = o.get("properties", {})
        new_props: dict[str, Any] = n.get("properties", {})
        old_req, new_req = set(o.get("required", ())), set(n.get("required", ()))
        old_extra = o.get("additionalProperties", True)
        new_extra = n.get("additionalProperties", True)

        for name in sorted(set(old_props) | set(new_props) | old_req | new_req):
            sub = f"{path}.{name}" if path else name
            in_old, in_new = name in old_props or name in old_req, name in new_props or name in new_req
            if in_old and not in_new:
                if name in old_req:
                    self._error(sub, "required property removed (old readers need it)")
                else:
                    self._error(sub, "property removed (old records still carry it; keep it and deprecate it instead)")
                continue
            if in_new and not in_old:
                if name in new_req:
                    self._error(sub, "new required property (old records lack it)")
                elif old_extra is False:
                    self._error(sub, "property added but old readers forbid unknown properties")
                elif isinstance(old_extra, dict):
                    # Old readers validate it against additionalProperties; it must be the same shape.
                    self.compare(old_extra, new_props[name], sub)
                continue
            if name in old_req and name not in new_req:
                self._error(sub, "no longer required (old readers need it)")
            elif name in new_req and name not in old_req:
                self._error(sub, "became required (old records may lack it)")
            if name in old_props and name in new_props:
                self.compare(old_props[name], new_props[name], sub)

        if old_extra is not False and new_extra is False:
            self._error(path, "additionalProperties tightened to false (old records may carry unknown properties)")
        elif old_extra is False and new_extra is not False:
            self._error(path, "additionalProperties loosened from false (old readers reject unknown properties)")
        elif isinstance(old_extra, dict) or isinstance(new_extra, dict):
            self.compare(old_extra, new_extra, f"{path}{{*}}")

    def _compare_array(self, o: dict[str, Any], n: dict[str, Any], path: str) -> None:
        old_prefix: list[Any] = o.get("prefixItems", [])
        new_prefix: list[Any] = n.get("prefixItems", [])
        if len(old_prefix) != len(new_prefix):
            self._error(path, f"tuple length (prefixItems) changed from {len(old_prefix)} to {len(new_prefix)}")
        for i, (op, np) in enumerate(zip(old_prefix, new_prefix, strict=False)):
            self.compare(op, np, f"{path}[{i}]")
        self.compare(o.get("items", True), n.get("items", True), f"{path}[]")

    def _compare_other_keywords(self, o: dict[str, Any], n: dict[str, Any], path: str) -> None:
        """Formats, bounds, patterns and anything unknown: any change narrows or widens, so report it."""
        for key in sorted(set(o) | set(n)):
            if _is_annotation(key) or key in _STRUCTURAL:
                continue
            ov, nv = o.get(key, _MISSING), n.get(key, _MISSING)
            if ov != nv:
                self._error(path, f"{key} changed from {_show(ov)} to {_show(nv)}")


# ------------------------------------------------------------------------------------ helpers


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Conjunction of two object-ish schemas, good enough for the allOf shapes generators emit."""
    out = dict(a)
    for key, value in b.items():
        if key == "properties" and key in out:
            out[key] = {**out[key], **value}
        elif key == "required" and key in out:
            out[key] = list(dict.fromkeys([*out[key], *value]))
        else:
            out[key] = value
    return out


def _canonical(schema: dict[str, Any]) -> str:
    """Identity of a resolved definition for cycle detection; annotations (like ``$defs``) do not count."""
    return json.dumps({k: v for k, v in schema.items() if not _is_annotation(k)}, sort_keys=True)


def _group(branches: list[_Branch]) -> dict[str, list[_Branch]]:
    out: dict[str, list[_Branch]] = {}
    for b in branches:
        out.setdefault(b.type, []).append(b)
    return out


def _type_rank(t: str) -> int:
    return JSON_TYPES.index(t) if t in JSON_TYPES else len(JSON_TYPES)


def _value_has_type(value: Any, t: str) -> bool:
    vt = _type_of_value(value)
    return vt == t or (t == "number" and vt == "integer")


def _allowed_values(schema: dict[str, Any]) -> dict[str, Any] | None:
    """``const``/``enum`` as canonical-JSON → value, or None when any value of the type is allowed."""
    values: list[Any] | None = None
    if "const" in schema:
        values = [schema["const"]]
    if "enum" in schema:
        enum = list(schema["enum"])
        values = enum if values is None else [v for v in values if v in enum]
    if values is None:
        return None
    return {json.dumps(v, sort_keys=True): v for v in values}


def _show_values(values: dict[str, Any] | None) -> str:
    return _show(list((values or {}).values()))


def iter_refs(schema: Any) -> Iterator[str]:
    """Every ``$ref`` string in a schema document (used by tests to prove references resolve)."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from iter_refs(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from iter_refs(item)
