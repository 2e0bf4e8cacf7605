"""The opt-in Conductor REST API function (infra/conductor_api.py): thin routes over lambdas/conductor."""
