"""Jinja environments for the shipped templates, with a user's directory overlaid on top.

A template found in the user's ``--templates`` directory wins over the shipped one of the same
relative path, so a user overrides one file (or one macro file) without copying the rest.
JSON templates render values through ``tojson``; XML templates autoescape.
"""

from __future__ import annotations

import functools
import threading
import types
from collections import abc
from pathlib import Path
from typing import Any

import jinja2
import jinja2.runtime
import jinja2.tests
import orjson
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.filters import do_tojson
from jinja2.nodes import Call, EvalContext, Include, Output
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, _escape_inner, escape  # the C routine (or its pure-Python fallback)

from mappers import names

SHIPPED_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def _name_parts(name: str | None) -> names.NameParts:
    """The ``split_name`` filter: a name's first/middle/last/degrees for formats that want them
    (PRS XML); a text that is not a person's name comes back whole as ``last``
    (``mappers.names``). As attributes (``n.first``; Jinja reads ``n["first"]`` too): Jinja
    looks ``n.first`` up as an attribute first, and on a dict each look-up raised and caught an
    AttributeError before finding the key, eight times a person."""
    return names.split_name(name or "")


def _dumps(value, **_) -> str:
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError as exc:  # lone surrogates, integers beyond 64 bits
        raise jinja2.TemplateRuntimeError(f"value cannot be written as JSON: {exc}") from exc


@jinja2.pass_eval_context
def _tojson(eval_ctx: EvalContext, value, indent: int | None = None) -> str:
    """Jinja's ``tojson`` where it is needed, in HTML and XML (autoescaped) templates: JSON that
    is safe inside markup. In the JSON templates (not autoescaped) the value is written as
    plain JSON, without escaping ``<``, ``>``, ``&`` and ``'`` as ``\\u003c``…: the bundle is
    parsed again (``finish_json``), where both spellings are the same string, and the four
    replacements were a fifth of the FHIR render.

    There it is a plain ``str``, not ``Markup``: output that is not autoescaped is written as
    it is either way, and wrapping (then unwrapping) each of a study's thousand JSON values in
    ``Markup`` cost as much as writing them. orjson is called here, not through ``_dumps``,
    for the same reason: this runs once per value a FHIR template writes."""
    if eval_ctx.autoescape and indent is None and (value is None or type(value) in _JSON_SCALARS):
        # a report page's true, 12, null: nothing in them for do_tojson to escape (its four
        # replacements and two calls were most of a page's cost of writing one)
        return Markup(_dumps(value))
    if eval_ctx.autoescape or indent is not None:
        return do_tojson(eval_ctx, value, indent)
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError as exc:  # lone surrogates, integers beyond 64 bits
        raise jinja2.TemplateRuntimeError(f"value cannot be written as JSON: {exc}") from exc


_JSON_SCALARS = frozenset({bool, int, float})
_SEQUENCES = frozenset({list, tuple, str, dict})


def _is_mapping(value) -> bool:
    """Jinja's ``mapping`` test, answering a dict (what templates test, hundreds of times a
    report page) before asking the ``Mapping`` ABC."""
    return type(value) is dict or isinstance(value, abc.Mapping)


def _is_sequence(value) -> bool:
    """Jinja's ``sequence`` test, answering the JSON kinds before trying ``len`` and
    ``__getitem__`` as it does."""
    return type(value) in _SEQUENCES or jinja2.tests.test_sequence(value)


_MISSING = jinja2.runtime.missing  # an argument left to its default, as Macro.__call__ passes it
_BUILTIN_METHOD = types.BuiltinMethodType  # dict.get, str.split… (and built-in functions)
# Python functions and their lru_cache: their __call__ is the type's slot, which carries no pass arg
_FUNCTIONS = frozenset({types.FunctionType, functools._lru_cache_wrapper})


class _ShippedContext(jinja2.runtime.Context):
    """Jinja's context, calling the kinds of callable a template calls most (its macros, built-in
    methods such as ``dict.get``, plain Python functions) the way ``Context.call`` ends up
    calling them, without first asking each, by three attribute probes, whether it wants the
    context passed. A study calls a few thousand of them (a site is a dozen). Most calls give
    their arguments by position and go through ``call_positional`` (``_ShippedCodeGenerator``
    writes them so); ``call`` takes the rest (keywords, ``caller``): a macro always takes the
    evaluation context, a built-in method never takes any, every other callable goes through
    Jinja's own ``call``. Not used under the sandbox, which calls through its own checks."""

    def call(__self, __obj, *args, **kwargs):  # Context.call's own signature
        kind = type(__obj)
        if kind is not jinja2.runtime.Macro and kind is not _BUILTIN_METHOD:
            return super().call(__obj, *args, **kwargs)
        kwargs.pop("_block_vars", None)
        kwargs.pop("_loop_vars", None)
        try:
            if kind is _BUILTIN_METHOD:
                return __obj(*args, **kwargs)
            return __obj(__self.eval_ctx, *args, **kwargs)
        except StopIteration:  # as Context.call
            return __self.environment.undefined(
                "value was undefined because a callable raised a StopIteration exception"
            )

    def call_positional(self, obj, args: tuple, loop_vars=None, block_vars=None):
        """``call(obj, *args, _loop_vars=loop_vars, _block_vars=block_vars)`` for a call with
        its arguments by position (most a template makes; ``_ShippedCodeGenerator`` writes
        them so): a built-in method or a macro taking them as they are is called at once,
        without the keyword dictionary ``call`` gathers only to drop it, half a microsecond a
        macro call, a few hundred calls a study. So is a Python function (or its ``lru_cache``)
        that asks for no context (``pass_context`` and its kin set ``jinja_pass_arg`` in its
        ``__dict__``, which ``lru_cache`` copies): Jinja learns that by three ``hasattr`` probes,
        each raising and catching an AttributeError, two microseconds a call (``country_code``,
        once a site). Anything else goes through ``call``, with the loop's or block's
        variables as Jinja passes them."""
        kind = type(obj)
        try:
            if kind is _BUILTIN_METHOD:
                return obj(*args)
            if kind is jinja2.runtime.Macro and _plain_call(obj, args):
                # what Macro.__call__ ends up calling, as it calls it: an argument not given is
                # passed as ``missing``, which the macro's own code replaces by its default
                left = obj._argument_count - len(args)
                written = obj._func(*args, *(_MISSING,) * left) if left else obj._func(*args)
                return Markup(written) if self.eval_ctx.autoescape else written
            if kind in _FUNCTIONS and "jinja_pass_arg" not in obj.__dict__:
                return obj(*args)
        except StopIteration:  # as Context.call
            return self.environment.undefined(
                "value was undefined because a callable raised a StopIteration exception"
            )
        scope = {}
        if loop_vars is not None:
            scope["_loop_vars"] = loop_vars
        if block_vars is not None:
            scope["_block_vars"] = block_vars
        return self.call(obj, *args, **scope)


def _plain_call(macro: jinja2.runtime.Macro, args: tuple) -> bool:
    """Whether ``Macro.__call__`` would pass ``args`` to the macro's function as they are, those
    not given (left to their defaults) as ``missing``: arguments by position only, no more than
    the macro takes, no ``caller`` to add, no ``kwargs``/``varargs`` to gather. Then the context
    calls the function itself, as ``Macro._invoke`` does (wrapping what an autoescaped macro
    writes in ``Markup``), without ``__call__``'s argument matching and its two frames, a
    microsecond or two a call, a few calls a site; a template need not spell out a default to
    be called so."""
    return len(args) <= macro._argument_count and not (
        macro.caller or macro.catch_kwargs or macro.catch_varargs
    )


def _escape_output(value) -> str:
    """``escape`` as an autoescaped template writes ``{{ value }}``: a plain ``str`` is escaped
    by markupsafe's own C routine and written as the plain ``str`` it gives, not wrapped in
    ``Markup`` first (half a microsecond each, on every value of an XML record: a site writes
    a dozen). The written text is the same: what a template writes is joined into the output,
    or into a macro's or block's buffer, which Jinja wraps in ``Markup`` itself. A ``Markup``
    (what a macro wrote) is written as it is; anything else (numbers, objects with
    ``__html__``) goes through markupsafe's ``escape``."""
    kind = type(value)
    if kind is str:
        return _escape_inner(value)
    if kind is Markup:  # a macro's output, safe already: ``escape`` would copy it
        return value
    return escape(value)


class _Joined:
    """What ``_ShippedCodeGenerator`` writes an unbuffered output node into: the node's pieces
    joined, yielded as one string."""

    extend = "".join
    append = str  # a node whose pieces Jinja folded into one


class _ShippedCodeGenerator(CodeGenerator):
    """Jinja's code generator, yielding fewer, longer pieces of output; the output is the same
    string. A template's text between two tags (a line of JSON, with its values) is one output
    node, which Jinja yields piece by piece, a literal, then a value, then a literal…; every piece
    then goes through one Python loop per ``include`` around it (the ResearchStudy is two includes
    deep in the bundle), and ``render`` joins them at the end. Here a node's pieces are joined and
    yielded once, and an included template's output is joined where it is included (C's
    ``str.join`` drains it). Only unbuffered code (a template's top level and its blocks) yields;
    macros and ``{% set %}`` blocks write into a list, as Jinja does. A call with its arguments
    by position goes through the context's ``call_positional`` (the same answer as ``call``)."""

    def visit_Output(self, node: Output, frame: Frame) -> None:
        if frame.buffer is not None or frame.require_output_check or len(node.nodes) < 2:
            super().visit_Output(node, frame)
            return
        frame.buffer = "yield _joined"  # Jinja's buffered form: `yield _joined.extend((a, b, c))`
        try:
            super().visit_Output(node, frame)
        finally:
            frame.buffer = None

    @optimizeconst
    def visit_Call(self, node: Call, frame: Frame, forward_caller: bool = False) -> None:
        if forward_caller or node.kwargs or node.dyn_args or node.dyn_kwargs or self.environment.is_async:
            super().visit_Call(node, frame, forward_caller=forward_caller)
            return
        # `context.call_positional(f, (a, b,), _loop_vars, _block_vars)`: what Jinja's call
        # passes, the arguments as one tuple
        self.write("context.call_positional(")
        self.visit(node.node, frame)
        self.write(", (")
        for arg in node.args:
            self.visit(arg, frame)
            self.write(", ")
        self.write(")")
        if frame.loop_frame or frame.block_frame:
            self.write(", _loop_vars" if frame.loop_frame else ", None")
            self.write(", _block_vars" if frame.block_frame else "")
        self.write(")")

    def visit_Include(self, node: Include, frame: Frame) -> None:
        if node.ignore_missing or not node.with_context or self.environment.is_async:
            super().visit_Include(node, frame)
            return
        # Jinja's own include, its output taken whole (get_or_select_template: a name, a list
        # of names or a template, as Jinja picks among the three)
        self.writeline("template = environment.get_or_select_template(", node)
        self.visit(node.template, frame)
        self.write(f", {self.name!r})")
        self.simple_write(
            "_joined.extend(template.root_render_func(template.new_context(context.get_all(), True,"
            f" {self.dump_local_context(frame)})))",
            frame,
        )


class _ShippedTemplate(jinja2.Template):
    """A shipped template whose compiled code escapes what it writes by ``_escape_output`` and
    joins its pieces of output by ``_Joined``: the code looks both up among its module's globals,
    set here after Jinja runs it."""

    @classmethod
    def from_code(cls, environment, code, globals, uptodate=None):
        template = super().from_code(environment, code, globals, uptodate)
        template.root_render_func.__globals__["escape"] = _escape_output
        template.root_render_func.__globals__["_joined"] = _Joined
        return template

    def _get_default_module(self, ctx=None):
        """The module ``{% import %}`` gives: Jinja's cached one unless the importing context has
        globals this template lacks. Jinja asks that by a set difference with the keys of a
        ``ChainMap``, an ``in`` per key in Python, six microseconds an import (a study imports
        seven); ``set.difference`` over the chain's maps gives the same keys in C."""
        maps = getattr(self.globals, "maps", (self.globals,))  # make_globals' ChainMap
        if ctx is not None and not ctx.globals_keys.difference(*maps):
            ctx = None
        return super()._get_default_module(ctx)


class _ShippedEnvironment(jinja2.Environment):
    context_class = _ShippedContext
    template_class = _ShippedTemplate
    code_generator_class = _ShippedCodeGenerator

    def getitem(self, obj: Any, argument: Any) -> Any:
        """Jinja's ``getitem`` (what ``x[name]`` and the filters' ``attribute=`` use: ``map``,
        ``selectattr``, ``unique``, ``sort``…), asking the attribute at once of an object whose
        type cannot be subscripted (the canonical model's instances): Jinja tries ``obj[name]``
        first, and on a model that raises and catches a ``TypeError`` before the attribute is
        read, once per item a filter visits (a thousand-site study's countries, its arms…).
        The answer is the same: for such an object the subscript can only fail, and Jinja then
        reads the attribute or gives the undefined value, as this does."""
        kind = type(obj)
        first = _ATTRIBUTE_FIRST.get(kind)
        if first is None:  # a type's answer never changes: asked once per type
            first = _ATTRIBUTE_FIRST[kind] = not hasattr(kind, "__getitem__") and not issubclass(kind, type)
        if first and type(argument) is str:
            try:
                return getattr(obj, argument)
            except AttributeError:
                return self.undefined(obj=obj, name=argument)
        return super().getitem(obj, argument)


# Whether an instance of a type can only fail a subscript: the type has no ``__getitem__`` (the
# slot Python's subscript uses) and is not a metaclass (a class is subscripted through
# ``__class_getitem__``).
_ATTRIBUTE_FIRST: dict[type, bool] = {}


_ENVIRONMENTS: dict[str | None, jinja2.Environment] = {}
_BUILDING = threading.Lock()


def environment(user_dir: str | None = None) -> jinja2.Environment:
    """One environment per overlay directory, shared by every batch thread: compiling templates
    is the slow part, and Jinja renders loaded templates safely from many threads. Built under a
    lock, so that two threads asking first get the same one, fully set up."""
    env = _ENVIRONMENTS.get(user_dir)
    if env is None:
        with _BUILDING:
            env = _ENVIRONMENTS.get(user_dir)
            if env is None:
                env = _ENVIRONMENTS[user_dir] = _build_environment(user_dir)
    return env


def _build_environment(user_dir: str | None) -> jinja2.Environment:
    """With an overlay, Jinja's sandbox: an overlay is code that runs wherever the run does (a
    worker, a Dask cluster) and may be set per run from a deployment's parameters, so it gets the
    values it is given and their public attributes, never Python's internals (``__class__``,
    ``__globals__``…). The shipped templates alone are trusted and render unsandboxed."""
    loaders: list[jinja2.BaseLoader] = []
    if user_dir:
        loaders.append(jinja2.FileSystemLoader(user_dir))
    loaders.append(jinja2.FileSystemLoader(SHIPPED_TEMPLATES))
    kind = SandboxedEnvironment if user_dir else _ShippedEnvironment
    env = kind(
        loader=jinja2.ChoiceLoader(loaders),
        # The shipped templates change only with the package: no file is stat'ed again each
        # time a template imports its macros (a few times a study). A user's overlay may be
        # edited while a served deployment runs, so it is checked as Jinja always does.
        auto_reload=bool(user_dir),
        autoescape=jinja2.select_autoescape(enabled_extensions=("xml", "xml.j2", "html", "html.j2")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["split_name"] = _name_parts
    env.filters["tojson"] = _tojson
    env.tests["mapping"] = _is_mapping  # the same answers as Jinja's, sooner
    env.tests["string"] = str.__instancecheck__  # isinstance(value, str), as Jinja's, in one C call
    env.tests["sequence"] = _is_sequence
    # tojson runs once per value: orjson keeps it cheap; Jinja still makes the result HTML-safe.
    env.policies["json.dumps_function"] = _dumps
    env.policies["json.dumps_kwargs"] = {}
    return env


def render(template: str, context: dict, user_dir: str | None = None) -> str:
    return environment(user_dir).get_template(template).render(context)
