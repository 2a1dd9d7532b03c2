"""Chat templates rendered as Hugging Face's apply_chat_template renders them (transformers'
_compile_jinja_template): jinja2's ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks,
loopcontrols and {% generation %}, tojson as json.dumps without ASCII escapes, raise_exception and strftime_now.

Reads a JSON list of cases on stdin ({template, variables}); writes a JSON list of
{"text": ...} or {"error": ...}, one per case, on stdout. The oracle of test/runtime/chat-template.test.ts.
"""
import json
import sys
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment


class AssistantTracker(jinja2.ext.Extension):
    """transformers' {% generation %} ... {% endgeneration %}, which renders its body (it marks the assistant's text)."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    def _generation_support(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(format):
    return datetime.now().strftime(format)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = strftime_now

results = []
for case in json.load(sys.stdin):
    try:
        results.append({"text": env.from_string(case["template"]).render(**case["variables"])})
    except Exception as e:  # noqa: BLE001 - every failure is a result to compare
        results.append({"error": f"{type(e).__name__}: {e}"})
json.dump(results, sys.stdout, ensure_ascii=False)
