"""Packaging for airflow-provider-fateflow (metadata lives here; pyproject.toml only names the build backend)."""
from __future__ import annotations

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"', (HERE / "airflow_provider_fateflow" / "__init__.py").read_text(), re.M
).group(1)
# One home, declared once (get_provider_info.py); Airflow's Providers page links the package name to the
# "Documentation" project URL (without one it points at a non-existent apache.org page).
PROJECT_URL = re.search(
    r'^PROJECT_URL = "([^"]+)"', (HERE / "airflow_provider_fateflow" / "get_provider_info.py").read_text(), re.M
).group(1)

setup(
    name="airflow-provider-fateflow",
    version=VERSION,
    description="Apache Airflow provider for FATE Flow, the job scheduler of the FATE federated-learning framework",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    url=PROJECT_URL,
    project_urls={
        "Documentation": f"{PROJECT_URL}#readme",
        "Homepage": PROJECT_URL,
        "Source": PROJECT_URL,
        "Bug Tracker": f"{PROJECT_URL}/issues",
        "FATE Flow": "https://github.com/FederatedAI/FATE-Flow",
    },
    python_requires=">=3.10",
    packages=find_packages(include=["airflow_provider_fateflow", "airflow_provider_fateflow.*"]),
    package_data={"airflow_provider_fateflow": ["py.typed"]},
    install_requires=[
        "apache-airflow>=3.1",
        "requests>=2.28",
        "tenacity>=8.2",
        # Async HTTP for triggers: about 0.2 ms of CPU per poll where httpx took 1-4.5 ms (measured on
        # loopback against the sandbox), and a triggerer runs thousands of polls.
        "aiohttp>=3.9",
        # Airflow 3.1 builds the connection form (and `airflow providers behaviours`) from the hook's
        # wtforms fields; 3.2+ reads the declarative provider info instead. Small and pure Python.
        "wtforms>=3.0",
        # JSON answers decoded about twice as fast as the json module (client/responses.py decode_json);
        # Airflow 3's task SDK already depends on it.
        "msgspec>=0.18",
    ],
    extras_require={
        # The sandbox (a local FATE Flow v1 server) runs on FastAPI/uvicorn, which Airflow 3 already installs;
        # python-multipart parses url-encoded forms (Starlette) and Content-Disposition headers (testing/uploads.py).
        "sandbox": ["fastapi>=0.110", "uvicorn>=0.29", "python-multipart>=0.0.9"],
        "test": [
            "pytest>=8",
            "pytest-mock>=3.12",
            "fastapi>=0.110",
            "uvicorn>=0.29",
            "python-multipart>=0.0.9",
        ],
        # The deployment test's browser check (scripts/browser_check.py) drives Debian's chromium with it.
        "deploy": ["selenium>=4.20,<5"],
    },
    entry_points={
        "apache_airflow_provider": ["provider_info=airflow_provider_fateflow.get_provider_info:get_provider_info"],
        "console_scripts": ["fateflow-sandbox=airflow_provider_fateflow.testing.__main__:main"],
        # The `fateflow_sandbox` fixture for users' own DAG tests (import-light; the server loads on use).
        "pytest11": ["fateflow_sandbox=airflow_provider_fateflow.testing.pytest_plugin"],
    },
    classifiers=[
        "Framework :: Apache Airflow",
        "Framework :: Apache Airflow :: Provider",
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: Apache Software License",
    ],
)
