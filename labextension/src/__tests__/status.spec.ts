import type { INotebookTracker } from '@jupyterlab/notebook';
import { Signal } from '@lumino/signaling';

import {
  isPySparkKernel,
  parsePythonStr,
  parseStatusResult,
  parseStatusText,
  SparkStatusItem,
  SparkStatusPoller,
  STATUS_EXPRESSION
} from '../status';

// Outputs of Python's repr() of json.dumps(...) strings.
const READY_REPR =
  '\'{"state": "ready", "master": "local[*]", "ui_url": "http://127.0.0.1:4040", "app_id": "local-1700000000000", "version": "4.2.0"}\'';
const FAILED_REPR =
  '\'{"state": "failed", "master": "spark://h:7077", "ui_url": null, "app_id": null, "version": "4.2.0", "error": "it\\\'s \\\\"bad\\\\"\\\\n\\\\tnext \u2202 \\\\u0001"}\'';

describe('parsePythonStr', () => {
  it('reads repr() of a str', () => {
    expect(parsePythonStr("'abc'")).toBe('abc');
    expect(parsePythonStr('"it\'s"')).toBe("it's");
    expect(parsePythonStr("'it\\'s \"q\"'")).toBe('it\'s "q"');
    expect(parsePythonStr("'a\\\\b'")).toBe('a\\b');
    expect(parsePythonStr("'\\n\\t\\r'")).toBe('\n\t\r');
    expect(parsePythonStr("'\\x00\\x7f'")).toBe('\x00\x7f');
    expect(parsePythonStr("'\\u200b'")).toBe('\u200b');
    expect(parsePythonStr("'\\U0001f600'")).toBe('\u{1f600}');
    expect(parsePythonStr("'\u{1f600} \u2202'")).toBe('\u{1f600} \u2202');
    expect(parsePythonStr("  ''  ")).toBe('');
  });

  it('refuses what is no str literal', () => {
    expect(parsePythonStr('{"state": "ready"}')).toBeNull();
    expect(parsePythonStr("'abc")).toBeNull();
    expect(parsePythonStr("'a'b'")).toBeNull();
    expect(parsePythonStr("'\\x4'")).toBeNull();
    expect(parsePythonStr("'\\'")).toBeNull();
    expect(parsePythonStr('None')).toBeNull();
    expect(parsePythonStr("'")).toBeNull();
  });
});

describe('parseStatusText', () => {
  it('reads the repr of the JSON string', () => {
    expect(parseStatusText(READY_REPR)).toEqual({
      state: 'ready',
      master: 'local[*]',
      ui_url: 'http://127.0.0.1:4040',
      app_id: 'local-1700000000000',
      version: '4.2.0'
    });
    expect(parseStatusText(FAILED_REPR)).toEqual({
      state: 'failed',
      master: 'spark://h:7077',
      ui_url: null,
      app_id: null,
      version: '4.2.0'
    });
  });

  it('takes bare JSON too, and refuses anything else', () => {
    expect(parseStatusText('{"state": "starting", "master": "yarn"}')).toEqual({
      state: 'starting',
      master: 'yarn',
      ui_url: null,
      app_id: null,
      version: ''
    });
    expect(parseStatusText("{'state': 'ready'}")).toBeNull();
    expect(parseStatusText("'[1, 2]'")).toBeNull();
    expect(parseStatusText('None')).toBeNull();
  });
});

describe('parseStatusResult', () => {
  it('reads the user_expressions entry', () => {
    expect(
      parseStatusResult({
        status: 'ok',
        data: { 'text/plain': READY_REPR },
        metadata: {}
      })
    ).toMatchObject({ kind: 'ok', status: { state: 'ready' } });
    expect(
      parseStatusResult({
        status: 'error',
        ename: 'ModuleNotFoundError',
        evalue: "No module named 'pyspark_kernel'",
        traceback: []
      })
    ).toEqual({ kind: 'missing' });
    expect(
      parseStatusResult({ status: 'error', ename: 'RuntimeError', evalue: 'x' })
    ).toEqual({ kind: 'error', message: 'RuntimeError: x' });
    expect(parseStatusResult(undefined).kind).toBe('error');
  });
});

describe('SparkStatusItem', () => {
  it('shows state, master and the Spark UI link', () => {
    const item = new SparkStatusItem();
    item.setResult(
      parseStatusResult({ status: 'ok', data: { 'text/plain': READY_REPR } })
    );
    expect(item.node.querySelector('.pysk-status-text')!.textContent).toBe(
      'Spark: ready \u00b7 local[*]'
    );
    const link = item.node.querySelector('a') as HTMLAnchorElement;
    expect(link.hidden).toBe(false);
    expect(link.href).toBe('http://127.0.0.1:4040/');
    expect(link.target).toBe('_blank');
    expect(link.rel).toContain('noopener');
    expect(item.node.dataset.state).toBe('ready');
    item.setResult(
      parseStatusResult({ status: 'ok', data: { 'text/plain': FAILED_REPR } })
    );
    expect(item.node.classList).toContain('pysk-status-failed');
    expect(link.hidden).toBe(true);
    item.dispose();
  });

  it('links to the Spark UI through the Jupyter server', () => {
    const prefix =
      '/user/alice/pyspark-kernel/sparkui/0b3c3a5e-8d1f-4c1e-9d55-2f7c6a1e9a10';
    const item = new SparkStatusItem();
    item.setResult(
      parseStatusResult({
        status: 'ok',
        data: {
          'text/plain': `'{"state": "ready", "master": "local[*]", "ui_url": "${prefix}"}'`
        }
      })
    );
    const link = item.node.querySelector('a') as HTMLAnchorElement;
    expect(link.hidden).toBe(false);
    expect(link.getAttribute('href')).toBe(prefix);
    item.dispose();
  });
});

describe('isPySparkKernel', () => {
  it('knows the kernel by spec name, or display name and language', async () => {
    const info = Promise.resolve({ language_info: { name: 'python' } });
    expect(await isPySparkKernel({ name: 'pyspark', info } as any, 'X')).toBe(
      true
    );
    expect(
      await isPySparkKernel({ name: 'python3', info } as any, 'Python 3')
    ).toBe(false);
    expect(
      await isPySparkKernel({ name: 'spark', info } as any, 'PySpark (prod)')
    ).toBe(true);
    const r = Promise.resolve({ language_info: { name: 'R' } });
    expect(
      await isPySparkKernel({ name: 'spark', info: r } as any, 'PySpark R')
    ).toBe(false);
  });
});

describe('SparkStatusPoller', () => {
  function setup(status = 'idle') {
    const statusChanged = new Signal<unknown, string>({});
    const kernelChanged = new Signal<unknown, unknown>({});
    const reply: { content: unknown } = {
      content: {
        status: 'ok',
        user_expressions: {
          pysk: { status: 'ok', data: { 'text/plain': READY_REPR } }
        }
      }
    };
    const kernel = {
      name: 'pyspark',
      status,
      info: Promise.resolve({ language_info: { name: 'python' } }),
      requestExecute: jest.fn((): { done: Promise<{ content: unknown }> } => ({
        done: Promise.resolve(reply)
      }))
    };
    const panel = {
      content: {},
      sessionContext: {
        session: { kernel },
        kernelDisplayName: 'PySpark',
        statusChanged,
        kernelChanged
      }
    };
    const tracker = {
      currentWidget: panel,
      currentChanged: new Signal<unknown, unknown>({})
    } as unknown as INotebookTracker;
    const executed = new Signal<unknown, { notebook: unknown }>({});
    const item = new SparkStatusItem();
    const poller = new SparkStatusPoller({
      tracker,
      executed,
      item,
      interval: 60000
    });
    return { kernel, panel, statusChanged, executed, item, poller };
  }

  it('asks with a silent user expression and shows the answer', async () => {
    const { kernel, item, poller } = setup();
    const changed = jest.fn();
    poller.activeStateChanged.connect(changed);
    await poller.refresh();
    expect(kernel.requestExecute).toHaveBeenCalledWith({
      code: '',
      silent: true,
      store_history: false,
      user_expressions: { pysk: STATUS_EXPRESSION },
      allow_stdin: false,
      stop_on_error: false
    });
    expect(poller.isActive).toBe(true);
    expect(changed).toHaveBeenCalledTimes(1);
    expect(item.node.textContent).toContain('Spark: ready \u00b7 local[*]');
    poller.dispose();
    item.dispose();
  });

  it('waits for a busy kernel, then asks once it is idle', async () => {
    const { kernel, statusChanged, poller, item } = setup('busy');
    await poller.refresh();
    expect(kernel.requestExecute).not.toHaveBeenCalled();
    kernel.status = 'idle';
    statusChanged.emit('idle');
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(kernel.requestExecute).toHaveBeenCalledTimes(1);
    poller.dispose();
    item.dispose();
  });

  it('asks again after a cell of the current notebook ran', async () => {
    const { kernel, panel, executed, poller, item } = setup();
    executed.emit({ notebook: panel.content });
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(kernel.requestExecute).toHaveBeenCalledTimes(1);
    executed.emit({ notebook: {} });
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(kernel.requestExecute).toHaveBeenCalledTimes(1);
    poller.dispose();
    item.dispose();
  });

  it('hides itself on kernels without pyspark_kernel', async () => {
    const { kernel, poller, item } = setup();
    kernel.requestExecute.mockImplementation(() => ({
      done: Promise.resolve({
        content: {
          status: 'ok',
          user_expressions: {
            pysk: { status: 'error', ename: 'ModuleNotFoundError' }
          }
        }
      })
    }));
    await poller.refresh();
    expect(poller.isActive).toBe(false);
    await poller.refresh();
    expect(kernel.requestExecute).toHaveBeenCalledTimes(1);
    poller.dispose();
    item.dispose();
  });
});
