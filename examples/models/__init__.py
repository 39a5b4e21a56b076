"""Example model templates. Each file is a self-contained template to upload as it is, declaring
its ``DEPENDENCIES`` (``declared_dependencies``)."""
import ast


def declared_dependencies(source: str):
    """A template's ``DEPENDENCIES``: what its upload declares (``dependencies=`` of
    ``Client.create_model``), a list of requirements or a ``{name: version}`` dict. Read from its
    source without importing it, since what it imports may be what it declares; None when it names
    none."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == 'DEPENDENCIES'
                                                for t in node.targets):
            return ast.literal_eval(node.value)
    return None
