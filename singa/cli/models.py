"""``singa models list|upload|show|download|delete``: model templates."""
from singa.cli import exits
from singa.cli.base import command, existing_file, group, resolve
from singa.constants import ModelAccessRight, Task

COLUMNS = [('ID', 'id'), ('NAME', 'name'), ('TASK', 'task'), ('CLASS', 'model_class'), ('ACCESS', 'access_right'),
           ('CREATED', 'created_at')]
FIELDS = ['id', 'name', 'task', 'model_class', 'access_right', 'dependencies', 'docker_image', 'model_description',
          'owner_id', 'created_at', 'knob_config']


def register(commands) -> None:
    models = group(commands, 'models', help='upload, list, show, download and delete model templates',
                   description='Model templates: Python classes (subclasses of singa.model.BaseModel) that '
                               'declare their knobs. An upload is checked in a sandbox before it is kept.')
    listing = command(models, 'list', _list, help='list the templates you may train with (yours and public ones)')
    listing.add_argument('--task', choices=Task.values(), help='only templates of this task')
    upload = command(models, 'upload', _upload, help='upload a model template (.py, or .zip with --module)',
                     epilog='example:\n  singa models upload tree examples/models/sk_decision_tree.py '
                            '--task TABULAR_CLASSIFICATION --class SkDecisionTree')
    upload.add_argument('name', help='a name for it (commands take a template\'s name or id)')
    upload.add_argument('file', type=existing_file, help='the template: a .py file, or a .zip')
    upload.add_argument('--task', required=True, choices=Task.values())
    upload.add_argument('--class', required=True, dest='model_class', help='the template\'s class in the file')
    upload.add_argument('--module', help='with a .zip: the module in it that holds the class')
    upload.add_argument('--dependency', action='append', dest='dependencies', metavar='REQUIREMENT',
                        help='a package the template needs, as a PEP 508 requirement (repeat for more)')
    upload.add_argument('--public', action='store_true', help='let every user train with it')
    upload.add_argument('--docker-image', help='Swarm: the worker image it runs in')
    upload.add_argument('--description', help='what it is')
    upload.add_argument('-q', '--quiet', action='store_true', help='print only the new template\'s id')
    show = command(models, 'show', _show, help='show a template and its knob space')
    show.add_argument('model', help='its name or id')
    download = command(models, 'download', _download, help='save a template\'s file')
    download.add_argument('model', help='its name or id')
    download.add_argument('-o', '--output', required=True, metavar='FILE', help='where to write it')
    delete = command(models, 'delete', _delete, help='delete a template')
    delete.add_argument('model', help='its name or id')


def find(client, ref: str) -> dict:
    """The template named or identified by ``ref`` (among those the caller may use)."""
    return resolve(ref, 'model', client.get_model, client.get_available_models)


def _list(args, ctx) -> int:
    found = ctx.client().get_available_models(task=args.task)
    ctx.out.result(found, lambda: ctx.out.table(found, COLUMNS, empty='no model templates'))
    return exits.OK


def _upload(args, ctx) -> int:
    access = ModelAccessRight.PUBLIC if args.public else ModelAccessRight.PRIVATE
    model = ctx.client().create_model(args.name, args.task, args.file, args.model_class,
                                      dependencies=args.dependencies, access_right=access,
                                      docker_image=args.docker_image, model_file_name=args.module,
                                      model_description=args.description)
    if args.quiet and not args.json:
        ctx.out.line(model['id'])
    else:
        ctx.out.result(model, lambda: ctx.out.fields(model, FIELDS))
    return exits.OK


def _show(args, ctx) -> int:
    model = find(ctx.client(), args.model)
    ctx.out.result(model, lambda: ctx.out.fields(model, FIELDS))
    return exits.OK


def _download(args, ctx) -> int:
    client = ctx.client()
    model = find(client, args.model)
    path = client.download_model_file(model['id'], args.output)
    ctx.out.result({'id': model['id'], 'path': path}, lambda: ctx.out.line(f'Saved {model["name"]} to {path}.'))
    return exits.OK


def _delete(args, ctx) -> int:
    client = ctx.client()
    deleted = client.delete_model(find(client, args.model)['id'])
    ctx.out.result(deleted, lambda: ctx.out.line(f'Deleted model template {deleted["id"]}.'))
    return exits.OK
