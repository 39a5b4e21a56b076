"""The Pareto plot of a train job in a real browser against ``singa up``: a job tuned for two
objectives in opposite directions under a constraint; the plot draws the front the API computes
(and the staircase joining it), the other trials dimmed and the constraint's bound; a trial
deployed by a rule while the page is open is ringed, and unringed when its inference job stops,
without a reload; other axes give that pair's front; a click on a point opens its trial."""
import re

import pytest
from playwright.sync_api import expect, sync_playwright

from local_stack import wait_until
from metric_templates import TWO_METRICS
from singa.client import Client
from web_browser import WatchedPage, launch

DEV = ('pareto-dev@example.com', 'pareto-password-1')
APP = 'webpareto'
TRIALS = 10
BOUND_MS = 2.0
CHART = 'Pareto front of the completed trials on the two chosen figures'
# What the page drew: each series' name, type, the trial ids of its points and its bound lines.
READ_CHART = '''(label) => {
  const el = document.querySelector(`[aria-label="${label}"]`);
  const chart = window.echarts && window.echarts.getInstanceByDom(el);
  if (!chart) return null;
  return chart.getOption().series.map((s) => ({
    name: s.name, type: s.type, points: (s.data || []).length,
    ids: (s.data || []).map((d) => (d && d.id) || null),
    marks: ((s.markLine && s.markLine.data) || []).map((m) => [m.xAxis ?? null, m.yAxis ?? null]) }));
}'''


@pytest.fixture(scope='module')
def tuned(stack, tmp_path_factory):
    """A finished job of TRIALS trials for accuracy (max) and predict_latency_ms (min) with
    predict_latency_ms <= BOUND_MS, deployed by no inference job yet."""
    from examples.datasets.build import build
    data = tmp_path_factory.mktemp('web-pareto')
    iris = build('iris', str(data))
    admin = Client(stack['host'], stack['port'])
    admin.login(stack['email'], stack['password'])
    admin.create_user(*DEV, 'MODEL_DEVELOPER')
    dev = Client(stack['host'], stack['port'])
    dev.login(*DEV)
    train_id, val_id = (dev.create_dataset(f'iris-{p}', 'TABULAR_CLASSIFICATION', iris[p])['id'] for p in ('train', 'val'))
    template = data / 'two_metrics.py'
    template.write_text(TWO_METRICS)
    model = dev.create_model('two-metrics', 'TABULAR_CLASSIFICATION', str(template), 'TwoMetrics')['id']
    dev.create_train_job(APP, 'TABULAR_CLASSIFICATION', train_id, val_id, {'MODEL_TRIAL_COUNT': TRIALS}, [model],
                         advisor='TPE', seed=1, objectives=[{'name': 'accuracy', 'direction': 'maximize'},
                                                            {'name': 'predict_latency_ms', 'direction': 'minimize'}],
                         constraints=[{'name': 'predict_latency_ms', 'max': BOUND_MS}])
    assert dev.wait_until_train_job_has_stopped(APP, timeout=300, progress=False)['status'] == 'STOPPED'
    return dev


def series(drawn: list, name: str, kind: str = 'scatter') -> dict:
    return next(s for s in drawn if s['name'] == name and s['type'] == kind)


def test_the_pareto_plot_draws_the_front_the_api_computes(stack, tuned):
    dev = tuned
    api = dev.get_pareto_front(APP, others=True)
    front, others = [t['id'] for t in api['trials']], [t['id'] for t in api['others']]
    assert len(front) + len(others) == TRIALS

    with sync_playwright() as playwright:
        context = launch(playwright)
        serving = False
        try:
            web = WatchedPage(context, stack['url'])
            page = web.page
            page.set_default_timeout(30_000)
            web.login(*DEV)
            web.goto(f'/web/train-jobs/{APP}/1')
            expect(page.get_by_role('img', name=CHART).locator('canvas')).to_be_visible()
            served = page.get_by_role('table', name='The trials on the Pareto front').locator('tbody tr') \
                .filter(has_text='yes')
            expect(served).to_have_count(0)
            assert series(page.evaluate(READ_CHART, CHART), 'Deployed')['ids'] == []

            # Deployed while the page is open: the trial the rule picks is ringed, with no reload.
            page.evaluate('window.__notReloaded = true')
            dev.create_inference_job(APP, select={'objective': 'accuracy',
                                                  'where': [{'name': 'predict_latency_ms', 'max': BOUND_MS}]})
            serving = True
            deployed = dev.wait_until_inference_job_is_running(APP, timeout=120)['workers'][0]['trial_id']
            assert deployed in front
            expect(served).to_have_count(1)
            assert wait_until(lambda: series(page.evaluate(READ_CHART, CHART), 'Deployed')['ids'] == [deployed],
                              timeout=10)
            assert page.evaluate('window.__notReloaded') is True, 'the page reloaded'
            expect(page.get_by_label('X axis', exact=True)).to_have_value('predict_latency_ms')
            expect(page.get_by_label('Y axis', exact=True)).to_have_value('accuracy')
            expect(page.get_by_label('X axis: better when')).to_have_value('minimize')
            expect(page.get_by_text(f'{len(front)} of {TRIALS} completed trials on the front of accuracy and '
                                    f'predict_latency_ms, among those meeting predict_latency_ms <= {BOUND_MS:g}'))\
                .to_be_visible()
            drawn = page.evaluate(READ_CHART, CHART)
            assert sorted(series(drawn, 'Pareto front')['ids']) == sorted(front)
            dimmed = series(drawn, 'Dominated')['ids'] + series(drawn, 'Outside the constraints')['ids']
            assert sorted(dimmed) == sorted(others)
            infeasible = {t['id'] for t in api['others'] if not t['feasible']}
            assert set(series(drawn, 'Outside the constraints')['ids']) == infeasible
            assert series(drawn, 'Deployed')['ids'] == [deployed]
            # the staircase: each front point, and a corner between two neighbours
            assert series(drawn, 'Pareto front', 'line')['points'] == 2 * len(front) - 1
            assert series(drawn, 'Constraint bounds', 'line')['marks'] == [[BOUND_MS, None]]
            rows = page.get_by_role('table', name='The trials on the Pareto front').locator('tbody tr')
            expect(rows).to_have_count(len(front))
            web.shot('train_job_pareto')

            # Its inference job stopped: the ring goes, again with no reload.
            dev.stop_inference_job(APP)
            serving = False
            expect(served).to_have_count(0)
            assert wait_until(lambda: series(page.evaluate(READ_CHART, CHART), 'Deployed')['ids'] == [], timeout=10)
            assert page.evaluate('window.__notReloaded') is True, 'the page reloaded'

            # Other figures on the axes: the front of that pair, as the API computes it.
            page.get_by_label('Y axis', exact=True).select_option('f1')
            expect(page.get_by_label('Y axis: better when')).to_have_value('maximize')
            pair = dev.get_pareto_front(APP, objectives=[{'name': 'predict_latency_ms', 'direction': 'minimize'},
                                                         {'name': 'f1', 'direction': 'maximize'}])
            expect(page.get_by_text(re.compile(f'^{len(pair["trials"])} of {TRIALS} completed trials on the front '
                                               'of f1 and predict_latency_ms'))).to_be_visible()
            drawn = page.evaluate(READ_CHART, CHART)
            assert sorted(series(drawn, 'Pareto front')['ids']) == sorted(t['id'] for t in pair['trials'])

            # A click on a point of the front opens its trial.
            target = next((t for t in pair['trials'] if t['id'] != deployed), pair['trials'][0])
            x, y = page.evaluate('''([label, value]) => {
              const el = document.querySelector(`[aria-label="${label}"]`);
              const chart = window.echarts.getInstanceByDom(el);
              const index = chart.getOption().series.findIndex((s) => s.name === 'Pareto front' && s.type === 'scatter');
              return chart.convertToPixel({ seriesIndex: index }, value);
            }''', [CHART, [target['values']['predict_latency_ms'], target['values']['f1']]])
            plot = page.get_by_role('img', name=CHART)
            plot.scroll_into_view_if_needed()
            box = plot.bounding_box()
            page.mouse.click(box['x'] + x, box['y'] + y)
            expect(page).to_have_url(re.compile(f'/web/trials/{target["id"]}$'))
            expect(page.locator('h1')).to_contain_text(f'Trial #{target["no"]}')
            assert not web.problems, web.problems
        finally:
            context.close()
            if serving:
                dev.stop_inference_job(APP)
