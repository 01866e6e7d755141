"""A BWS client on Python's C-core gRPC (Debian's python3-grpcio), for the conformance matrix.

Reads {"address", "stubs", "calls": [...]} as JSON on stdin, makes the calls in order with stubs
generated from the vendor-layout schema, and writes one result per call as JSON on stdout. Each
call names its service and the module protoc made of the service's schema file.
Requests and responses are canonical proto3 JSON, so the test compares them across clients.
"""
import importlib
import json
import sys


def main():
    spec = json.load(sys.stdin)
    sys.path.insert(0, spec["stubs"])
    import grpc
    from google.protobuf import json_format

    channel = grpc.insecure_channel(spec["address"])
    # One stub per service, on the one channel, made when a call first needs it.
    stubs = {}
    results = []
    for call in spec["calls"]:
        messages = importlib.import_module(call["module"] + "_pb2")
        if call["service"] not in stubs:
            services = importlib.import_module(call["module"] + "_pb2_grpc")
            stubs[call["service"]] = getattr(services, call["service"] + "Stub")(channel)
        stub = stubs[call["service"]]
        request = json_format.ParseDict(call["request"], getattr(messages, call["requestType"])())
        options = {"metadata": [(k, v) for k, v in call["metadata"].items()]}
        if call.get("timeoutSeconds") is not None:
            options["timeout"] = call["timeoutSeconds"]
        if call.get("gzip"):
            options["compression"] = grpc.Compression.Gzip
        method = getattr(stub, call["method"])
        try:
            response, rpc = method.with_call(request, **options)
            results.append({
                "code": 0,
                "message": "",
                "json": json_format.MessageToDict(response, including_default_value_fields=True),
                "headers": dict(rpc.initial_metadata()),
                "trailers": dict(rpc.trailing_metadata()),
            })
        except grpc.RpcError as error:
            results.append({
                "code": error.code().value[0],
                "message": error.details(),
                "headers": dict(error.initial_metadata() or []),
                "trailers": dict(error.trailing_metadata() or []),
            })
    channel.close()
    json.dump(results, sys.stdout)


main()
