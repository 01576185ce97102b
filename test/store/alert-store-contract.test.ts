import { beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/store.ts';
import { errorOf, forEachStore } from '../support/stores.ts';
import { T0, instance, query, runStep, started } from './store-fixtures.ts';

/* The alert side of the Store port (collections, alerts, claims, renewals), the same on both stores. */

const collection = (name: string) => ({ name, description: null, query: 'IssuedCN -contains "x"', duplicationField: 0, showOnDashboard: false, favorite: true });

forEachStore('Alert store contract', (current) => {
  let store: Store;
  beforeEach(() => {
    store = current();
  });

  it('collections: insert, read, update, delete; names are unique whatever their case', async () => {
    const c = await store.alerts.insertCollection(collection('Web'));
    expect(await store.alerts.getCollection(c.id)).toEqual(c);
    expect((await errorOf(store.alerts.insertCollection(collection('WEB')))).errorName).toBe('Conflict');
    const other = await store.alerts.insertCollection(collection('Mail'));
    expect((await errorOf(store.alerts.updateCollection({ ...other, name: 'web' }))).errorName).toBe('Conflict');
    expect(await store.alerts.updateCollection({ ...c, query: '' })).toEqual({ ...c, query: '' });
    expect(await store.alerts.updateCollection({ ...c, id: 99999 })).toBeNull();
    expect((await store.alerts.listCollections()).map((x) => x.name)).toEqual(['Web', 'Mail']);
    expect(await store.alerts.deleteCollection(c.id)).toBe(true);
    expect(await store.alerts.deleteCollection(c.id)).toBe(false);
    expect(await store.alerts.getCollection(c.id)).toBeNull();
  });

  it('alerts: body round trip, last run, schedule set time; deleting one drops its claims', async () => {
    const a = await store.alerts.insertAlert({ displayName: 'A', warningDays: 30, recipients: ['x@example.test'] }, T0);
    expect(await store.alerts.getAlert(a.id)).toEqual({ id: a.id, body: { displayName: 'A', warningDays: 30, recipients: ['x@example.test'] }, lastRunAt: null, setAt: T0 });
    await store.alerts.markAlertRun(a.id, '2025-03-01T11:00:00.000Z');
    const kept = await store.alerts.updateAlert(a.id, { displayName: 'B' }, null);
    expect(kept).toMatchObject({ body: { displayName: 'B' }, lastRunAt: '2025-03-01T11:00:00.000Z', setAt: T0 });
    expect((await store.alerts.updateAlert(a.id, { displayName: 'C' }, '2025-03-02T00:00:00.000Z'))!.setAt).toBe('2025-03-02T00:00:00.000Z');
    await store.alerts.touchAllAlerts('2025-03-03T00:00:00.000Z');
    expect((await store.alerts.getAlert(a.id))!.setAt).toBe('2025-03-03T00:00:00.000Z');
    expect(await store.alerts.updateAlert(99999, {}, null)).toBeNull();
    expect(await store.alerts.claimAlerted(a.id, 7, T0)).toBe(true);
    expect(await store.alerts.deleteAlert(a.id)).toBe(true);
    expect(await store.alerts.listAlerted([a.id])).toEqual([]);
    expect(await store.alerts.deleteAlert(a.id)).toBe(false);
  });

  it('claims: an (alert, certificate) pair is claimed once; a released e-mail claim can be claimed again', async () => {
    expect(await store.alerts.claimAlerted(1, 10, T0)).toBe(true);
    expect(await store.alerts.claimAlerted(1, 10, T0)).toBe(false);
    expect(await store.alerts.claimAlerted(2, 10, T0)).toBe(true);
    const many = await Promise.all(Array.from({ length: 8 }, () => store.alerts.claimAlerted(3, 10, T0)));
    expect(many.filter(Boolean)).toHaveLength(1);
    await store.alerts.releaseAlerted(1, 10);
    expect(await store.alerts.claimAlerted(1, 10, T0)).toBe(true);
    expect((await store.alerts.listAlerted([1, 2, 3])).map((r) => `${r.alertId}:${r.certificateId}`).sort()).toEqual(['1:10', '2:10', '3:10']);
    expect(await store.alerts.listAlerted([])).toEqual([]);
    expect((await store.alerts.listAlerted([1, 2, 3], [10, 11])).map((r) => r.alertId).sort()).toEqual([1, 2, 3]);
    expect(await store.alerts.listAlerted([1, 2, 3], [11])).toEqual([]);
    expect(await store.alerts.listAlerted([1], [])).toEqual([]);
  });

  it('startInstanceOnce: the claim and the instance (with its jobs) are one write; racing starts create one instance', async () => {
    const build = (ref: number) => {
      const inst = instance(ref, { status: 'Running' });
      return started(inst, [runStep(inst.id)]);
    };
    const first = await store.startInstanceOnce({ alertId: 5, certificateId: 9, at: T0 }, build);
    expect(first).not.toBeNull();
    expect(await store.getInstance(first!.id)).toMatchObject({ id: first!.id });
    expect(await store.startInstanceOnce({ alertId: 5, certificateId: 9, at: T0 }, build)).toBeNull();
    const raced = await Promise.all(Array.from({ length: 8 }, () => store.startInstanceOnce({ alertId: 6, certificateId: 9, at: T0 }, build)));
    expect(raced.filter((x) => x !== null)).toHaveLength(1);
    expect(await store.queryInstances(query())).toHaveLength(2);
    expect((await store.alerts.listAlerted([5])).map((r) => r.instanceId)).toEqual([first!.id]);
    // A claim that started an instance is not given back.
    await store.alerts.releaseAlerted(5, 9);
    expect(await store.alerts.listAlerted([5])).toHaveLength(1);
    // Instances whose metadata is still to be copied to the certificate, until marked.
    expect((await store.alerts.listUnsynced(10)).map((r) => r.alertId).sort()).toEqual([5, 6]);
    await store.alerts.markSynced(5, 9);
    expect((await store.alerts.listUnsynced(10)).map((r) => r.alertId)).toEqual([6]);
    const jobs = await store.claimJobs('owner', 10, 30_000);
    expect(jobs.map((j) => j.instanceId).sort()).toEqual([first!.id, raced.find((x) => x !== null)!.id].sort());
  });

  it('settings: put overwrites, get reads', async () => {
    expect(await store.alerts.getSetting('s')).toBeNull();
    await store.alerts.putSetting('s', 'one');
    await store.alerts.putSetting('s', 'two');
    expect(await store.alerts.getSetting('s')).toBe('two');
  });

  describe('renewals', () => {
    it('one renewal per idempotency key, linked both ways once the new certificate exists', async () => {
      const { renewal, created } = await store.alerts.insertRenewal({ idempotencyKey: 'k1', oldCertificateId: 1, requestId: 10, at: T0 });
      expect(created).toBe(true);
      const again = await store.alerts.insertRenewal({ idempotencyKey: 'k1', oldCertificateId: 1, requestId: 11, at: T0 });
      expect(again).toEqual({ renewal, created: false });
      expect(await store.alerts.findRenewalByKey('k1')).toEqual(renewal);
      expect(await store.alerts.renewedAmong([1, 2])).toEqual(new Set());
      await store.alerts.setRenewalCertificate(renewal.id, 2);
      expect(await store.alerts.renewedAmong([1, 2, 3])).toEqual(new Set([1]));
      expect(await store.alerts.renewalsOf(1)).toEqual({ from: null, by: [{ ...renewal, newCertificateId: 2 }] });
      expect((await store.alerts.renewalsOf(2)).from).toEqual({ ...renewal, newCertificateId: 2 });
      expect(await store.alerts.findRenewalByKey('nope')).toBeNull();
    });
  });
});
