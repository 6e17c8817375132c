"""DAGs used by the dag.test() tests; this folder is the test session's dags folder."""
