"""Which functions `cio_fix.handlers` takes for request handlers, and which loops run per item."""

from __future__ import annotations

import textwrap
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, ParentNodeProvider

from cio_fix.customerio import FileIndex, FunctionInfo, build_index
from cio_fix.handlers import (
    is_background_job,
    is_celery_task,
    is_request_handler,
    loop_around,
    request_handler,
    runs_per_request_or_item,
)
from cio_fix.project import ProjectIndex, summarise


def _index(source: str, module_name: str = "shop.app") -> FileIndex:
    module = cst.parse_module(textwrap.dedent(source))
    return build_index(module, module_name, is_package=False)


def _function(index: FileIndex, qualname: str) -> FunctionInfo:
    for function in index.functions:
        if function.qualname == qualname:
            return function
    raise AssertionError(f"no function {qualname}")


HANDLERS = [
    (
        "flask_route",
        """
        @app.route("/orders", methods=["POST"])
        def handler():
            pass
        """,
    ),
    (
        "flask_blueprint_post",
        """
        @orders.post("/orders")
        def handler():
            pass
        """,
    ),
    (
        "fastapi_router_get_keyword_path",
        """
        @router.get(path="/orders/{order_id}")
        async def handler(order_id: int):
            pass
        """,
    ),
    (
        "fastapi_api_route",
        """
        @app.api_route("/orders", methods=["GET", "POST"])
        async def handler():
            pass
        """,
    ),
    (
        "starlette_websocket",
        """
        @app.websocket("/ws")
        async def handler(websocket):
            pass
        """,
    ),
    (
        "aiohttp_route_table",
        """
        @routes.delete("/orders")
        async def handler(request):
            pass
        """,
    ),
    (
        "flask_before_request",
        """
        @app.before_request
        def handler():
            pass
        """,
    ),
    (
        "fastapi_middleware",
        """
        @app.middleware("http")
        async def handler(request, call_next):
            pass
        """,
    ),
    (
        "flask_add_url_rule",
        """
        def handler():
            pass

        app.add_url_rule("/orders", view_func=handler)
        """,
    ),
    (
        "aiohttp_add_get",
        """
        async def handler(request):
            pass

        app.router.add_get("/orders", handler)
        """,
    ),
    (
        "aiohttp_web_post",
        """
        from aiohttp import web

        async def handler(request):
            pass

        app.add_routes([web.post("/orders", handler)])
        """,
    ),
    (
        "starlette_route",
        """
        from starlette.routing import Route

        async def handler(request):
            pass

        routes = [Route("/orders", handler)]
        """,
    ),
    (
        "django_require_post",
        """
        from django.views.decorators.http import require_POST

        @require_POST
        def handler(request):
            pass
        """,
    ),
    (
        "django_login_required",
        """
        from django.contrib.auth.decorators import login_required

        @login_required
        def handler(request):
            pass
        """,
    ),
    (
        "drf_api_view",
        """
        from rest_framework.decorators import api_view

        @api_view(["POST"])
        def handler(request):
            pass
        """,
    ),
]


@pytest.mark.parametrize(
    ("case", "source"), HANDLERS, ids=[case for case, _ in HANDLERS]
)
def test_handlers_recognises_function(case: str, source: str) -> None:
    index = _index(source)
    assert is_request_handler(index, _function(index, "handler"))


CLASS_HANDLERS = [
    ("django_view_post", "from django.views import View", "View", "post"),
    (
        "django_create_view_form_valid",
        "from django.views.generic import CreateView",
        "CreateView",
        "form_valid",
    ),
    (
        "django_mixin_dispatch",
        "from django.contrib.auth.mixins import LoginRequiredMixin",
        "LoginRequiredMixin",
        "dispatch",
    ),
    (
        "drf_viewset_perform_create",
        "from rest_framework import viewsets",
        "viewsets.ModelViewSet",
        "perform_create",
    ),
    ("drf_api_view_put", "from rest_framework.views import APIView", "APIView", "put"),
    ("flask_method_view", "from flask.views import MethodView", "MethodView", "delete"),
    (
        "tornado_request_handler",
        "import tornado.web",
        "tornado.web.RequestHandler",
        "get",
    ),
    (
        "tornado_websocket_message",
        "import tornado.websocket",
        "tornado.websocket.WebSocketHandler",
        "on_message",
    ),
    (
        "starlette_endpoint",
        "from starlette.endpoints import HTTPEndpoint",
        "HTTPEndpoint",
        "post",
    ),
]


@pytest.mark.parametrize(
    ("case", "imports", "base", "method"),
    CLASS_HANDLERS,
    ids=[case for case, *_ in CLASS_HANDLERS],
)
def test_handlers_recognises_method(
    case: str, imports: str, base: str, method: str
) -> None:
    source = f"""
    {imports}

    class Orders({base}):
        def {method}(self, request):
            pass
    """
    index = _index(source)
    assert is_request_handler(index, _function(index, f"Orders.{method}"))


def test_handlers_recognises_drf_action() -> None:
    index = _index("""
        from rest_framework import viewsets
        from rest_framework.decorators import action

        class Orders(viewsets.ViewSet):
            @action(detail=True, methods=["post"])
            def refund(self, request, pk=None):
                pass
        """)
    assert is_request_handler(index, _function(index, "Orders.refund"))


def test_handlers_recognises_function_view_in_views_module() -> None:
    index = _index(
        """
        def order_created(request):
            pass
        """,
        module_name="shop.views",
    )
    assert is_request_handler(index, _function(index, "order_created"))


def test_handlers_recognises_views_package() -> None:
    index = _index(
        """
        def order_created(request, order_id):
            pass
        """,
        module_name="shop.views.orders",
    )
    assert is_request_handler(index, _function(index, "order_created"))


NOT_HANDLERS = [
    (
        "request_parameter_outside_views",
        "shop.utils",
        """
        def handler(request):
            pass
        """,
    ),
    (
        "views_helper_without_request",
        "shop.views",
        """
        def handler(order):
            pass
        """,
    ),
    (
        "celery_shared_task",
        "shop.views",
        """
        from celery import shared_task

        @shared_task(bind=True)
        def handler(request, order_id):
            pass
        """,
    ),
    (
        "celery_app_task",
        "shop.tasks",
        """
        @app.task
        def handler(order_id):
            pass
        """,
    ),
    (
        "rq_job",
        "shop.jobs",
        """
        from rq.decorators import job

        @job("default")
        def handler(order_id):
            pass
        """,
    ),
    (
        "route_without_path",
        "shop.app",
        """
        @cache.get("orders")
        def handler():
            pass
        """,
    ),
    (
        "plain_decorator_named_route",
        "shop.app",
        """
        @route("/orders")
        def handler():
            pass
        """,
    ),
    (
        "app_factory",
        "shop.app",
        """
        def handler():
            app = Flask(__name__)
            return app
        """,
    ),
    (
        "fastapi_startup_event",
        "shop.app",
        """
        @app.on_event("startup")
        async def handler():
            pass
        """,
    ),
    (
        "fastapi_lifespan",
        "shop.app",
        """
        from contextlib import asynccontextmanager

        @asynccontextmanager
        async def handler(app):
            yield
        """,
    ),
]


@pytest.mark.parametrize(
    ("case", "module_name", "source"),
    NOT_HANDLERS,
    ids=[case for case, *_ in NOT_HANDLERS],
)
def test_handlers_rejects_function(case: str, module_name: str, source: str) -> None:
    index = _index(source, module_name)
    assert not is_request_handler(index, _function(index, "handler"))


def test_handlers_rejects_management_command() -> None:
    index = _index(
        """
        from django.core.management.base import BaseCommand

        class Command(BaseCommand):
            def handle(self, *args, **options):
                pass
        """,
        module_name="shop.management.commands.export",
    )
    assert not is_request_handler(index, _function(index, "Command.handle"))


def test_handlers_rejects_get_of_plain_class() -> None:
    index = _index("""
        class Cache:
            def get(self, key):
                pass
        """)
    assert not is_request_handler(index, _function(index, "Cache.get"))


def test_handlers_background_job_by_decorator() -> None:
    index = _index("""
        @huey.task()
        def export(order_id):
            pass
        """)
    assert is_background_job(_function(index, "export"))


def test_handlers_nested_function_belongs_to_handler() -> None:
    index = _index("""
        @app.post("/orders")
        def order_created():
            def notify():
                pass
            notify()
        """)
    handler = request_handler(index, _function(index, "order_created.notify"))
    assert handler is not None
    assert handler.name == "order_created"


def test_handlers_route_nested_in_app_factory() -> None:
    index = _index("""
        def create_app():
            app = Flask(__name__)

            @app.post("/orders")
            def order_created():
                pass

            return app
        """)
    assert request_handler(index, _function(index, "create_app")) is None
    assert (
        request_handler(index, _function(index, "create_app.order_created")) is not None
    )


def _project_index(sources: dict[str, str]) -> ProjectIndex:
    summaries = []
    for module_name, source in sources.items():
        index = _index(source, module_name)
        summaries.append(summarise(index, Path(module_name.replace(".", "/") + ".py")))
    return ProjectIndex(summaries)


ROUTE_FACTORY_PROJECT = {
    "web.app": """
        from flask import Flask

        app = Flask(__name__)
        """,
    "web.cache": """
        class Memo:
            pass

        memo = Memo()
        """,
    "web.routing": """
        from web.app import app

        def json_post(path):
            return app.route(path, methods=["POST"])
        """,
}


def test_handlers_route_factory_of_imported_app() -> None:
    index = _index(
        """
        from web.app import app
        from web.cache import memo

        def json_get(path):
            return app.route(path, methods=["GET"])

        def cached(key):
            return memo.get(key)

        def shadowed(path, app):
            return app.route(path)

        @json_get("/orders")
        def list_orders():
            pass

        @cached("/prices")
        def list_prices():
            pass

        @shadowed("/stock")
        def list_stock():
            pass
        """,
        "web.views",
    )
    index.attach_project(_project_index(ROUTE_FACTORY_PROJECT))

    assert is_request_handler(index, _function(index, "list_orders"))
    assert not is_request_handler(index, _function(index, "list_prices"))
    assert not is_request_handler(index, _function(index, "list_stock"))


def test_handlers_route_factory_imported() -> None:
    index = _index(
        """
        from web.routing import json_post
        from web.app import app as json_put

        @json_post("/orders")
        def create_order():
            pass

        @json_put("/orders")
        def update_order():
            pass

        class Orders:
            from web.app import app as json_post

            @json_post("/orders")
            def create(self):
                pass
        """,
        "web.views",
    )
    index.attach_project(_project_index(ROUTE_FACTORY_PROJECT))

    assert is_request_handler(index, _function(index, "create_order"))
    # An imported app is no factory, and a class body's import hides the factory.
    assert not is_request_handler(index, _function(index, "update_order"))
    assert not is_request_handler(index, _function(index, "Orders.create"))


def test_handlers_route_factory_without_project() -> None:
    index = _index(
        """
        from web.routing import json_post

        @json_post("/orders")
        def create_order():
            pass
        """,
        "web.views",
    )

    assert not is_request_handler(index, _function(index, "create_order"))


def test_handlers_function_called_from_handler() -> None:
    index = _index("""
        def notify(order):
            pass

        @app.post("/orders")
        def order_created():
            notify(1)
        """)
    assert runs_per_request_or_item(index, _function(index, "notify"))


def test_handlers_function_called_in_loop() -> None:
    index = _index("""
        def notify(order):
            pass

        def export(orders):
            for order in orders:
                notify(order)
        """)
    assert runs_per_request_or_item(index, _function(index, "notify"))


def test_handlers_function_mapped_over_items() -> None:
    index = _index("""
        def notify(order):
            pass

        def export(executor, orders):
            executor.map(notify, orders)
        """)
    assert runs_per_request_or_item(index, _function(index, "notify"))


LOOP_PLACES = [
    ("for_body", "for item in items:\n    notify(item)", True),
    ("for_iterable", "for item in notify(items):\n    pass", False),
    ("for_else", "for item in items:\n    pass\nelse:\n    notify(items)", False),
    ("while_condition", "while notify(items):\n    pass", True),
    ("comprehension_filter", "found = [item for item in items if notify(item)]", True),
    ("lambda_in_loop", "for item in items:\n    later = lambda: notify(item)", True),
    (
        "definition_in_loop",
        "for item in items:\n    def inner():\n        notify(item)",
        False,
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "per_item"), LOOP_PLACES, ids=[case for case, _, _ in LOOP_PLACES]
)
def test_handlers_call_in_loop_place(case: str, body: str, per_item: bool) -> None:
    source = "def notify(order):\n    pass\n\ndef export(items):\n" + "".join(
        f"    {line}\n" for line in body.splitlines()
    )
    index = _index(source)

    assert runs_per_request_or_item(index, _function(index, "notify")) is per_item


def test_handlers_function_called_once() -> None:
    index = _index("""
        def notify(order):
            pass

        def export(orders):
            for order in orders:
                pass
            notify(orders)
        """)
    assert not runs_per_request_or_item(index, _function(index, "notify"))


def test_handlers_call_in_job_is_not_per_request() -> None:
    index = _index("""
        def notify(order):
            pass

        @shared_task
        def export(order):
            notify(order)
        """)
    assert not runs_per_request_or_item(index, _function(index, "notify"))


CELERY_TASKS = [
    (
        "shared_task",
        """
        from celery import shared_task

        @shared_task
        def export(order_id):
            pass
        """,
    ),
    (
        "shared_task_with_arguments",
        """
        from celery import shared_task

        @shared_task(bind=True, max_retries=3)
        def export(self, order_id):
            pass
        """,
    ),
    (
        "shared_task_of_celery_module",
        """
        import celery

        @celery.shared_task
        def export(order_id):
            pass
        """,
    ),
    (
        "celery_3_task",
        """
        from celery.task import periodic_task

        @periodic_task(run_every=60)
        def export():
            pass
        """,
    ),
    (
        "app_task",
        """
        from celery import Celery

        app = Celery("shop")

        @app.task
        def export(order_id):
            pass
        """,
    ),
    (
        "app_task_with_arguments",
        """
        import celery as c

        celery = c.Celery("shop")

        @celery.task(bind=True)
        def export(self, order_id):
            pass
        """,
    ),
    (
        "app_of_celery_module",
        """
        from shop.celery import app

        @app.task
        def export(order_id):
            pass
        """,
    ),
    (
        "app_of_relative_celery_module",
        """
        from .celery import app

        @app.task(bind=True)
        def export(self, order_id):
            pass
        """,
    ),
    (
        "django_celery_app",
        """
        from shop import celery_app

        @celery_app.task
        def export(order_id):
            pass
        """,
    ),
]


@pytest.mark.parametrize(
    ("case", "source"), CELERY_TASKS, ids=[case for case, _ in CELERY_TASKS]
)
def test_handlers_celery_task_runs_per_item(case: str, source: str) -> None:
    index = _index(source, "shop.tasks")
    export = _function(index, "export")

    assert is_celery_task(index, export)
    assert runs_per_request_or_item(index, export)
    assert not is_request_handler(index, export)


NOT_CELERY_TASKS = [
    (
        "invoke_task",
        """
        from invoke import task

        @task
        def export(c):
            pass
        """,
    ),
    (
        "task_of_unknown_origin",
        """
        @shared_task
        def export(order_id):
            pass
        """,
    ),
    (
        "app_of_other_library",
        """
        from huey import RedisHuey

        app = RedisHuey("shop")

        @app.task()
        def export(order_id):
            pass
        """,
    ),
    (
        "imported_app",
        """
        from shop.worker import app

        @app.task
        def export(order_id):
            pass
        """,
    ),
    (
        "celery_module_app_rebound",
        """
        from shop.celery import app

        app = make_app()

        @app.task
        def export(order_id):
            pass
        """,
    ),
    (
        "app_bound_twice",
        """
        from celery import Celery

        app = Celery("shop")
        app = make_app()

        @app.task
        def export(order_id):
            pass
        """,
    ),
    (
        "method_named_like_task",
        """
        from celery import shared_task

        class Export:
            @shared_task
            def export(self, order_id):
                pass
        """,
    ),
]


@pytest.mark.parametrize(
    ("case", "source"), NOT_CELERY_TASKS, ids=[case for case, _ in NOT_CELERY_TASKS]
)
def test_handlers_rejects_celery_task(case: str, source: str) -> None:
    index = _index(source, "shop.tasks")
    qualname = "Export.export" if case == "method_named_like_task" else "export"
    export = _function(index, qualname)

    assert not is_celery_task(index, export)
    assert not runs_per_request_or_item(index, export)


def test_handlers_function_called_from_celery_task() -> None:
    index = _index("""
        from celery import shared_task

        def notify(order):
            pass

        @shared_task
        def export(order):
            notify(order)
        """)
    assert runs_per_request_or_item(index, _function(index, "notify"))


# -- loops ----------------------------------------------------------------------------------


def _loop_of_call(source: str, callee: str) -> cst.CSTNode | None:
    module = cst.parse_module(textwrap.dedent(source))
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    parents = wrapper.resolve(ParentNodeProvider)
    for node in parents:
        if (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Name)
            and node.func.value == callee
        ):
            ancestors = []
            current = parents.get(node)
            while current is not None:
                ancestors.append(current)
                current = parents.get(current)
            return loop_around(node, ancestors)
    raise AssertionError(f"no call of {callee}")


LOOPS = [
    ("for_body", "for item in items:\n    build()\n", cst.For),
    ("while_body", "while pending():\n    build()\n", cst.While),
    ("list_comprehension", "clients = [build() for item in items]\n", cst.ListComp),
    (
        "generator_condition",
        "clients = list(x for x in items if build())\n",
        cst.CompFor,
    ),
    (
        "dict_comprehension_value",
        "clients = {item: build() for item in items}\n",
        cst.DictComp,
    ),
]


@pytest.mark.parametrize(
    ("case", "source", "loop_type"), LOOPS, ids=[case for case, *_ in LOOPS]
)
def test_handlers_loop_around_call(case: str, source: str, loop_type: type) -> None:
    assert isinstance(_loop_of_call(source, "build"), loop_type)


NOT_LOOPS = [
    ("for_iterable", "for item in build():\n    pass\n"),
    ("first_comprehension_iterable", "clients = [item for item in build()]\n"),
    (
        "function_defined_in_loop",
        "for item in items:\n    def send():\n        build()\n",
    ),
    ("after_loop", "for item in items:\n    pass\nbuild()\n"),
]


@pytest.mark.parametrize(
    ("case", "source"), NOT_LOOPS, ids=[case for case, _ in NOT_LOOPS]
)
def test_handlers_no_loop_around_call(case: str, source: str) -> None:
    assert _loop_of_call(source, "build") is None
