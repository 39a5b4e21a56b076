"""``singa datasets list|upload|show|delete``."""
from singa.cli import exits
from singa.cli.base import command, existing_file, group, resolve
from singa.constants import Task

COLUMNS = [('ID', 'id'), ('NAME', 'name'), ('TASK', 'task'), ('BYTES', 'size_bytes'), ('CREATED', 'created_at')]
FIELDS = ['id', 'name', 'task', 'size_bytes', 'owner_id', 'created_at', 'stat']


def register(commands) -> None:
    datasets = group(commands, 'datasets', help='upload, list, show and delete datasets',
                     description='Datasets: image classification as a zip, tabular classification and regression '
                                 'as CSV (see README.rst).')
    listing = command(datasets, 'list', _list, help='list your datasets')
    listing.add_argument('--task', choices=Task.values(), help='only datasets of this task')
    upload = command(datasets, 'upload', _upload, help='upload a dataset file',
                     epilog='example:\n  singa datasets upload iris-train iris_train.csv --task TABULAR_CLASSIFICATION')
    upload.add_argument('name', help='a name for it (commands take a dataset\'s name or id)')
    upload.add_argument('file', type=existing_file, help='the dataset file (.csv or .zip)')
    upload.add_argument('--task', required=True, choices=Task.values())
    upload.add_argument('-q', '--quiet', action='store_true', help='print only the new dataset\'s id')
    show = command(datasets, 'show', _show, help='show a dataset and its statistics')
    show.add_argument('dataset', help='its name or id')
    delete = command(datasets, 'delete', _delete, help='delete a dataset')
    delete.add_argument('dataset', help='its name or id')


def find(client, ref: str) -> dict:
    """The dataset named or identified by ``ref``."""
    return resolve(ref, 'dataset', client.get_dataset, client.get_datasets)


def _list(args, ctx) -> int:
    found = ctx.client().get_datasets(task=args.task)
    ctx.out.result(found, lambda: ctx.out.table(found, COLUMNS, empty='no datasets'))
    return exits.OK


def _upload(args, ctx) -> int:
    dataset = ctx.client().create_dataset(args.name, args.task, args.file)
    if args.quiet and not args.json:
        ctx.out.line(dataset['id'])
    else:
        ctx.out.result(dataset, lambda: ctx.out.fields(dataset, FIELDS))
    return exits.OK


def _show(args, ctx) -> int:
    dataset = find(ctx.client(), args.dataset)
    ctx.out.result(dataset, lambda: ctx.out.fields(dataset, FIELDS))
    return exits.OK


def _delete(args, ctx) -> int:
    client = ctx.client()
    deleted = client.delete_dataset(find(client, args.dataset)['id'])
    ctx.out.result(deleted, lambda: ctx.out.line(f'Deleted dataset {deleted["id"]}.'))
    return exits.OK
