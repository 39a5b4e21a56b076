"""The web admin in a real browser against ``singa up``: a person's whole path through it.

Log in, create users, upload datasets (with the progress bar) and templates, start a train job
and watch its trials arrive without reloading, read the plots of the job and of a trial, download
a trial's parameters, deploy the job, query it in the playground, stop it from the list in another
tab while the job's page and the list in a third tab follow, see a user who may not see the job
refused clearly, and an admin read it, whose list of train jobs follows the job resumed and
stopped through the SDK. Screenshots of the main pages land in ``test-artifacts/web/``.
"""
import json
import os
import re
import subprocess
import sys
import time

import pytest
from playwright.sync_api import expect, sync_playwright

from singa.client import Client
from web_browser import REPO, WatchedPage, launch

DEV = ('web-dev@example.com', 'web-password-1')
OTHER = ('web-other@example.com', 'web-password-2')
TEMPLATES = (('tree', 'sk_decision_tree.py', 'SkDecisionTree'), ('sgd', 'sk_sgd.py', 'SkSgdClf'))
TRIALS_PER_TEMPLATE = 6
TIMEOUT_MS = 120_000
FOLLOW_MS = 15_000   # a list reads its jobs every 5 s while none is starting


@pytest.fixture(scope='module')
def browser_context():
    with sync_playwright() as playwright:
        context = launch(playwright)
        yield context
        context.close()


@pytest.fixture(scope='module')
def wine(tmp_path_factory):
    out = tmp_path_factory.mktemp('web-data')
    subprocess.run([sys.executable, '-m', 'examples.datasets.build', '--out', str(out), 'wine'], cwd=REPO,
                   check=True, capture_output=True)
    return out


def new_page(context, stack) -> WatchedPage:
    context.clear_cookies()
    page = WatchedPage(context, stack['url'])
    page.page.set_default_timeout(20_000)
    return page


def test_the_web_admin_from_login_to_the_playground(browser_context, stack, wine):
    web = new_page(browser_context, stack)
    page = web.page

    # A browser asking for / is sent to the web admin, which asks it to log in.
    page.goto(stack['url'] + '/')
    expect(page).to_have_url(re.compile(r'/web/login\?next='))
    web.login(stack['email'], stack['password'])

    # The superadmin creates the users.
    web.goto('/web/users')
    for (email, password), role in ((DEV, 'MODEL_DEVELOPER'), (OTHER, 'APP_DEVELOPER')):
        page.get_by_label('Email').fill(email)
        page.get_by_label('Password').fill(password)
        page.get_by_label('Role').select_option(role)
        page.get_by_role('button', name='Create').click()
        expect(page.get_by_role('status')).to_contain_text(f'User {email} ({role}) created')
    expect(page.get_by_role('table')).to_contain_text(OTHER[0])
    web.shot('users')
    page.get_by_role('button', name='Log out').click()
    expect(page).to_have_url(re.compile(r'/web/login$'))

    # The model developer uploads two datasets: the progress bar reaches 100 and the stats show.
    web.login(*DEV)
    web.goto('/web/datasets')
    for part in ('train', 'val'):
        page.get_by_label('Name', exact=True).fill(f'wine-{part}')
        page.get_by_label('Task').select_option('TABULAR_CLASSIFICATION')
        page.get_by_label('File').set_input_files(str(wine / f'wine_{part}.csv'))
        page.get_by_role('button', name='Upload').click()
        expect(page.get_by_role('status').filter(has_text='uploaded')).to_contain_text(f'Dataset "wine-{part}" uploaded')
        assert page.get_by_label('Upload progress').evaluate('p => p.value') == 100
    expect(page.get_by_role('table')).to_contain_text('wine-val')
    web.shot('datasets')
    page.get_by_role('link', name='wine-train').click()
    expect(page.get_by_role('table', name='Examples per class')).to_contain_text('42')
    expect(page.get_by_role('img', name='Examples per class in wine-train').locator('canvas')).to_be_visible()
    web.shot('dataset')

    # ... and two templates, whose knob spaces the admin reads in its sandbox.
    web.goto('/web/models')
    for name, file, cls in TEMPLATES:
        page.get_by_label('Name', exact=True).fill(name)
        page.get_by_label('Task').select_option('TABULAR_CLASSIFICATION')
        page.get_by_label('Class').fill(cls)
        page.get_by_label('File', exact=True).set_input_files(os.path.join(REPO, 'examples', 'models', file))
        page.get_by_role('button', name='Upload').click()
        expect(page.get_by_role('status').filter(has_text='uploaded')).to_contain_text(f'Template "{name}" uploaded')
    web.shot('models')
    page.get_by_role('link', name='sgd').click()
    expect(page.get_by_role('table')).to_contain_text('alpha')
    expect(page.get_by_role('table')).to_contain_text('1e-6 to 0.1')
    web.shot('model')

    # A train job from the form; its page follows the trials as they arrive, without reloading.
    web.goto('/web/train-jobs/new')
    page.get_by_label('App').fill('webwine')
    page.get_by_label('Task').select_option('TABULAR_CLASSIFICATION')
    for label, name in (('Training dataset', 'wine-train'), ('Validation dataset', 'wine-val')):
        choice = page.get_by_label(label)
        choice.select_option(choice.locator('option', has_text=name).get_attribute('value'))
    page.get_by_label('Trials per template (MODEL_TRIAL_COUNT)').fill(str(TRIALS_PER_TEMPLATE))
    page.get_by_label('Trials at once (MAX_CONCURRENT_TRIALS)').fill('2')
    page.get_by_role('button', name='Start training').click()
    expect(page).to_have_url(re.compile(r'/web/train-jobs/webwine/1$'))
    expect(page.get_by_text('MAX_CONCURRENT_TRIALS 2')).to_be_visible()
    page.evaluate('window.__notReloaded = true')
    trial_rows = page.get_by_role('table', name='Every trial, newest first').locator('tbody tr')
    expect(page.locator('h1')).to_contain_text(re.compile('STARTED|RUNNING'))
    expect(trial_rows.first).to_be_visible(timeout=TIMEOUT_MS)
    seen_while_running = trial_rows.count()
    total = TRIALS_PER_TEMPLATE * len(TEMPLATES)
    expect(page.locator('h1')).to_contain_text('STOPPED', timeout=TIMEOUT_MS)
    expect(trial_rows).to_have_count(total)
    assert seen_while_running < total
    assert page.evaluate('window.__notReloaded') is True, 'the page reloaded'
    expect(page.get_by_text(f'{total} trials: {total} completed')).to_be_visible()

    # The tuning plots: best so far, comparison, one chart per knob, parallel coordinates, importance.
    for label in ('Best score so far against the number of finished trials',
                  'Best score so far against the time since the job started',
                  'Box plots of the scores of each template',
                  'Parallel coordinates of the knobs and the score of each completed trial',
                  'Hyperparameter importance of the chosen template'):
        expect(page.get_by_role('img', name=label).locator('canvas')).to_be_visible()
    expect(page.get_by_role('img', name=re.compile('^Score against the knob ')).first).to_be_visible()
    expect(page.get_by_text(re.compile(r'fANOVA over \d+ completed trials'))).to_be_visible()
    page.get_by_label('Template to plot').select_option(label='sgd')
    for knob in ('alpha', 'penalty', 'epochs'):
        expect(page.get_by_role('img', name=f'Score against the knob {knob}').locator('canvas')).to_be_visible()
    web.shot('train_job')

    # The services' logs, kept after the job's services are gone.
    page.get_by_role('button', name='Refresh the list').click()
    log_rows = page.get_by_role('table', name='One file per replica of each service').locator('tbody tr')
    expect(log_rows.filter(has_text='advisor')).to_have_count(len(TEMPLATES))
    log_rows.filter(has_text='advisor').first.get_by_role('button', name='Show').click()
    expect(page.get_by_label(re.compile('^The log of the advisor'))).to_contain_text('ended STOPPED')

    # A trial of the SGD template: its training curve, messages and parameters.
    page.get_by_role('table', name='Every trial, newest first').get_by_role('row').filter(has_text='sgd').first \
        .get_by_role('link').click()
    expect(page).to_have_url(re.compile(r'/web/trials/[0-9a-f-]+$'))
    expect(page.get_by_role('img', name=re.compile('^Training curve: log_loss, train_accuracy against epoch'))
           .locator('canvas')).to_be_visible()
    expect(page.get_by_role('table', name=re.compile('The knobs of trial'))).to_contain_text('penalty')
    expect(page.get_by_text(re.compile('Trained SGD for \\d+ epochs'))).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_role('button', name='Download the parameters').click()
    saved = download_info.value.path()
    assert download_info.value.suggested_filename.endswith('.params') and os.path.getsize(saved) > 100
    web.shot('trial')
    trial_url = page.url
    assert not web.problems, web.problems

    # Deploy the job from its page, make a prediction key, and ask the ensemble in the playground.
    page.go_back()
    page.get_by_role('link', name='Deploy as an inference job').click()
    expect(page).to_have_url(re.compile(r'/web/inference-jobs/new\?app=webwine&version=1$'))
    expect(page.get_by_label('Train job', exact=True)).to_have_value('["webwine",1]')
    page.get_by_role('button', name='Deploy').click()
    expect(page).to_have_url(re.compile(r'/web/inference-jobs/webwine/1$'))
    expect(page.locator('h1')).to_contain_text('RUNNING', timeout=TIMEOUT_MS)
    expect(page.get_by_role('table', name='The deployed trials').locator('tbody tr')).to_have_count(len(TEMPLATES))
    expect(page.get_by_text(re.compile(r'^http://[\d.]+:\d+/predict$'))).to_be_visible()
    page.get_by_label('Name of a new key').fill('web-key')
    page.get_by_role('button', name='Create a key').click()
    expect(page.get_by_label('The new prediction key')).to_have_text(re.compile(r'\S{20,}'))
    header, row = [line.strip().split(',') for line in (wine / 'wine_test.csv').read_text().splitlines()[:2]]
    query = {name: float(value) for name, value in zip(header[:-1], row[:-1])}
    page.get_by_label('Query (JSON)').fill(json.dumps(query))
    page.get_by_role('button', name='Predict').click()
    answer = page.get_by_label("The ensemble's answer")
    expect(answer).to_be_visible()
    probabilities = json.loads(answer.inner_text())
    expect(page.get_by_text(re.compile(r'^Most likely class [012] \(\d+\.\d %\)$')).first).to_be_visible()
    assert len(probabilities) == 3 and abs(sum(probabilities) - 1) < 1e-6
    each = page.get_by_role('table', name="Each model's answer").locator('tbody tr')
    expect(each).to_have_count(len(TEMPLATES))
    for name, _, _ in TEMPLATES:
        expect(each.filter(has_text=name)).to_contain_text('yes')
    web.shot('inference_job')

    # Stopped from the list in another tab: the job's page and the list in a third tab, open all along, follow.
    page.evaluate('window.__notReloaded = true')
    watching, listing = WatchedPage(browser_context, stack['url']), WatchedPage(browser_context, stack['url'])
    for tab in (watching, listing):
        tab.goto('/web/inference-jobs')
        expect(tab.page.get_by_role('row').filter(has_text='webwine')).to_contain_text('RUNNING')
    watching.page.evaluate('window.__notReloaded = true')
    listing.shot('inference_jobs')
    listing.page.once('dialog', lambda dialog: dialog.accept())
    listing.page.get_by_role('row').filter(has_text='webwine').get_by_role('button', name='Stop').click()
    expect(listing.page.get_by_role('row').filter(has_text='webwine')).to_contain_text('STOPPED', timeout=TIMEOUT_MS)
    watching.page.bring_to_front()
    expect(watching.page.get_by_role('row').filter(has_text='webwine')).to_contain_text('STOPPED', timeout=FOLLOW_MS)
    expect(watching.page.get_by_role('button', name='Stop')).to_have_count(0)
    assert watching.page.evaluate('window.__notReloaded') is True, 'the list reloaded'
    for tab in (watching, listing):
        assert not tab.problems, tab.problems
        tab.page.close()
    page.bring_to_front()
    expect(page.locator('h1')).to_contain_text('STOPPED')
    expect(page.get_by_role('button', name='Stop')).to_have_count(0)
    assert page.evaluate('window.__notReloaded') is True, 'the page reloaded'
    web.goto('/web/train-jobs')
    expect(page.get_by_role('row').filter(has_text='webwine')).to_contain_text(f'{total} of {total}')
    web.shot('train_jobs')
    assert not web.problems, web.problems

    # Another user may not see the job nor its trials: the page says so plainly.
    page.get_by_role('button', name='Log out').click()
    web.login(*OTHER)
    web.goto('/web/train-jobs/webwine/1')
    alert = page.get_by_role('alert')
    expect(alert).to_contain_text("Not found: no train job 'webwine' version 1: it does not exist, or it is not "
                                  'yours to see.')
    web.shot('refused_train_job')
    page.goto(trial_url)
    expect(page.get_by_role('alert')).to_contain_text('Not found: no such trial')
    web.goto('/web/users')
    expect(page.get_by_role('alert')).to_contain_text('Not allowed: a APP_DEVELOPER may not do this')

    # An admin may: they choose whose train jobs to list and read the job and its trials.
    page.get_by_role('button', name='Log out').click()
    web.login(stack['email'], stack['password'])
    page.get_by_label('Whose train jobs').select_option(label=DEV[0])
    expect(page).to_have_url(re.compile(r'/web/train-jobs\?user=[0-9a-f-]+$'))
    page.get_by_role('table', name="This user's train jobs, newest first").get_by_role('link', name='webwine').click()
    expect(page.locator('h1')).to_contain_text('Train job webwine · version 1')
    expect(trial_rows).to_have_count(total)
    trial_rows.first.get_by_role('link').click()
    expect(page.locator('h1')).to_contain_text('Trial #')
    page.get_by_role('link', name='← webwine version 1').click()
    expect(page).to_have_url(re.compile(r'/web/train-jobs/webwine/1\?user=[0-9a-f-]+$'))
    expect(page.locator('h1')).to_contain_text('STOPPED')
    web.shot('admin_reads_train_job')
    web.goto('/web/inference-jobs')
    page.get_by_label('Whose inference jobs').select_option(label=DEV[0])
    page.get_by_role('table', name="This user's inference jobs").get_by_role('link', name='webwine').click()
    expect(page.locator('h1')).to_contain_text('Inference job webwine · version 1')
    expect(page.get_by_text('Prediction keys and the playground are for the owner.')).to_be_visible()

    # The job resumed and stopped again through the SDK: the admin's list of the user's train jobs follows.
    web.goto('/web/train-jobs')
    page.get_by_label('Whose train jobs').select_option(label=DEV[0])
    expect(page).to_have_url(re.compile(r'/web/train-jobs\?user=[0-9a-f-]+$'))
    page.evaluate('window.__notReloaded = true')
    row = page.get_by_role('table', name="This user's train jobs, newest first").get_by_role('row').filter(
        has_text='webwine')
    expect(row).to_contain_text('STOPPED')
    developer = Client(admin_host=stack['host'], admin_port=stack['port'])
    developer.login(*DEV)
    developer.resume_train_job('webwine', 1, budget={'MODEL_TRIAL_COUNT': 100})
    expect(row).to_contain_text(re.compile('STARTED|RUNNING'), timeout=FOLLOW_MS)
    developer.stop_train_job('webwine', 1)
    expect(row).to_contain_text('STOPPED', timeout=FOLLOW_MS)
    assert page.evaluate('window.__notReloaded') is True, 'the list reloaded'
    assert not web.problems, web.problems


def test_errors_read_as_sentences_never_blank_pages(browser_context, stack):
    web = new_page(browser_context, stack)
    page = web.page
    page.goto(stack['url'] + '/web/login')
    page.evaluate('localStorage.clear()')
    page.get_by_label('Email').fill('nobody@example.com')
    page.get_by_label('Password').fill('wrong-password')
    page.get_by_role('button', name='Log in').click()
    expect(page.get_by_role('alert')).to_contain_text('Login refused: wrong email or password.')
    web.shot('login_refused')

    # Pages behind the login send the browser to log in and come back after.
    page.goto(stack['url'] + '/web/datasets')
    expect(page).to_have_url(re.compile(r'/web/login\?next=%2Fweb%2Fdatasets$'))
    web.login(stack['email'], stack['password'], expect_path='/web/datasets', here=True)

    # An admin bans a user (after confirming); the user's login is then refused.
    web.goto('/web/users')
    page.get_by_label('Email').fill('web-banned@example.com')
    page.get_by_label('Password').fill('web-password-3')
    page.get_by_label('Role').select_option('APP_DEVELOPER')
    page.get_by_role('button', name='Create').click()
    expect(page.get_by_role('status')).to_contain_text('User web-banned@example.com (APP_DEVELOPER) created')
    banned_row = page.get_by_role('row').filter(has_text='web-banned@example.com')
    page.once('dialog', lambda dialog: dialog.accept())
    banned_row.get_by_role('button', name='Ban').click()
    expect(banned_row.get_by_role('button', name='Unban')).to_be_visible()
    page.get_by_role('button', name='Log out').click()
    page.get_by_label('Email').fill('web-banned@example.com')
    page.get_by_label('Password').fill('web-password-3')
    page.get_by_role('button', name='Log in').click()
    expect(page.get_by_role('alert')).to_contain_text('Login refused: this user is banned.')

    # Unbanned, the user logs in again; a refused new password says why; the changed one works.
    web.login(stack['email'], stack['password'])
    web.goto('/web/users')
    banned_row.get_by_role('button', name='Unban').click()
    expect(banned_row.get_by_role('button', name='Ban')).to_be_visible()
    banned_row.get_by_role('button', name='Reset password').click()
    expect(page.get_by_label('New password for web-banned@example.com')).to_be_focused()
    web.shot('users_reset')
    page.get_by_role('button', name='Cancel').click()
    page.get_by_role('button', name='Log out').click()
    web.login('web-banned@example.com', 'web-password-3')
    web.goto('/web/account')
    page.get_by_label('Current password').fill('web-password-3')
    page.get_by_label('New password', exact=True).fill('password1')
    page.get_by_label('New password again').fill('password1')
    page.get_by_role('button', name='Change password').click()
    expect(page.get_by_role('alert')).to_contain_text('The request was refused: the password is too easy to guess')
    page.get_by_label('New password', exact=True).fill('kangaroo-lamp-71')
    page.get_by_label('New password again').fill('kangaroo-lamp-71')
    page.get_by_role('button', name='Change password').click()
    expect(page.get_by_role('status')).to_contain_text('Your password is changed')
    web.shot('account')
    # Logging out revokes the token on the admin, not only in this browser.
    token = page.evaluate("JSON.parse(localStorage.getItem('singa.session')).token")
    page.get_by_role('button', name='Log out', exact=True).click()
    expect(page).to_have_url(re.compile(r'/web/login$'))
    deadline = time.monotonic() + 10
    while page.request.get(stack['url'] + '/users/me', headers={'Authorization': f'Bearer {token}'}).status != 401:
        assert time.monotonic() < deadline, 'the token still works after logging out'
        page.wait_for_timeout(100)
    web.login('web-banned@example.com', 'kangaroo-lamp-71')
    page.get_by_role('button', name='Log out').click()
    expect(page).to_have_url(re.compile(r'/web/login$'))
    web.login(stack['email'], stack['password'])

    page.goto(stack['url'] + '/web/no/such/page')
    expect(page.get_by_role('heading', name='No such page')).to_be_visible()
    page.goto(stack['url'] + '/web/trials/not-a-trial')
    expect(page.get_by_role('alert')).to_contain_text('Not found')
    web.goto('/web/train-jobs/new')
    page.get_by_label('App').fill('bad app name!')
    page.evaluate("document.querySelector('form').noValidate = true")
    page.get_by_role('button', name='Start training').click()
    expect(page.get_by_role('alert')).to_contain_text(re.compile('Please check the form|The request was refused'))
    assert not web.problems, web.problems
