import { prepared } from '../../db/prepared';

describe('prepared(text)', () => {
  it('names a statement by its text: the same text, the same name; another text, another name', () => {
    const a = prepared('SELECT version FROM tenant_template_versions WHERE tenant_id = $1');
    expect(a.name).toMatch(/^herald_[0-9a-f]{20}$/);
    expect(prepared('SELECT version FROM tenant_template_versions WHERE tenant_id = $1')).toBe(a);
    expect(prepared('SELECT version FROM tenant_settings WHERE tenant_id = $1').name).not.toBe(a.name);
  });

  it.each([
    'SELECT * FROM deliveries WHERE id = $1',
    'UPDATE notifications SET status = $2 WHERE id = $1 RETURNING *',
    'SELECT d.*, r.locale FROM deliveries d JOIN recipients r ON r.external_id = d.external_id',
  ])('refuses %j: a prepared * breaks when a migration adds a column under a running process', (text) => {
    expect(() => prepared(text)).toThrow(/lists its columns/);
  });

  it('allows a star inside an aggregate', () => {
    expect(prepared('SELECT count(*) AS n FROM deliveries WHERE notification_id = $1').text).toContain(
      'count(*)',
    );
  });
});
