"""The execution viewer served by `imgpipe serve`: workflows, executions, the graph, renditions.

`backend` reads the Step Functions and S3 APIs (the local endpoint or a deployed stack), `runs` turns
a history into what each state did, `graph` lays out the ASL, `app` serves the pages, `standalone`
serves them alone over a deployed stack (`imgpipe serve --stack-name`).
"""
