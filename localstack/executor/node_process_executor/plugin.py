from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class NodeProcessExecutorPlugin(RuntimeExecutorPlugin):
    name = "node-process"

    def load(self, *args, **kwargs):
        # Imported on selection only: LocalStack lists every executor plugin at startup.
        from node_process_executor.executor import NodeProcessExecutor

        return NodeProcessExecutor
