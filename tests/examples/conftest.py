from examples.helpers import example_dags, flow, run_example, sb, sync_dag_to_db  # noqa: F401
