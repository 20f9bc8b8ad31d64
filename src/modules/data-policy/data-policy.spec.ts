import { randomBytes } from 'node:crypto';
import {
  compilePolicy,
  featureMasker,
  PersonalDataTreatment,
  projectHasher,
  recordMasker,
  REDACTED,
  REDACTED_RAW,
  validDataPolicy,
  valueMask,
} from './data-policy';
import { fieldOf } from '../../../test/support/field-of';

describe('validDataPolicy', () => {
  it('names the offending entry and accepts text columns, raw and any prediction feature', () => {
    expect(
      fieldOf(() => validDataPolicy({ personalFields: ['prediction.email', 'crm_contact.phone'] })),
    ).toBe('policy.personalFields.1');
    expect(fieldOf(() => validDataPolicy({ personalFields: ['crm_deal.amount'] }))).toBe(
      'policy.personalFields.0',
    );
    expect(fieldOf(() => validDataPolicy({ personalFields: ['ticket.created_at'] }))).toBe(
      'policy.personalFields.0',
    );
    expect(fieldOf(() => validDataPolicy({ personalFields: ['ticket'] }))).toBe('policy.personalFields.0');
    expect(fieldOf(() => validDataPolicy({ predictionRetentionDays: -1 }))).toBe(
      'policy.predictionRetentionDays',
    );
    expect(
      validDataPolicy({
        personalFields: ['ticket.tags', 'ticket.requester_id', 'rpa_queue_item.raw', 'prediction.first.name'],
        syncedRecordRetentionDays: 365,
      }),
    ).toEqual({
      personalFields: ['ticket.tags', 'ticket.requester_id', 'rpa_queue_item.raw', 'prediction.first.name'],
      treatment: 'REDACT',
      predictionRetentionDays: null,
      syncedRecordRetentionDays: 365,
    });
  });
});

describe('masking', () => {
  const secret = randomBytes(32);

  it('hashes with a per-project key: equal values equal, other projects and types apart, null kept', () => {
    const a = projectHasher(secret, 'project-a');
    const mask = valueMask(PersonalDataTreatment.HASH, a);
    expect(mask('ann@example.com')).toBe(mask('ann@example.com'));
    expect(mask('ann@example.com')).toMatch(/^hmac:[0-9a-f]{32}$/);
    expect(mask('42')).not.toBe(mask(42));
    expect(projectHasher(secret, 'project-b')('"ann@example.com"')).not.toBe(mask('ann@example.com'));
    expect(projectHasher(randomBytes(32), 'project-a')('"ann@example.com"')).not.toBe(
      mask('ann@example.com'),
    );
    expect(mask(null)).toBeNull();
    expect(mask(['x', 'x'])).toEqual([mask('x'), mask('x')]);
    expect(valueMask(PersonalDataTreatment.REDACT, null)({ nested: true })).toBe(REDACTED);
  });

  it('masks a copy of the marked features only, and none when none is marked', () => {
    const policy = compilePolicy({ personalFields: ['prediction.email', 'crm_contact.email'] });
    const masker = featureMasker(policy, valueMask(policy.treatment, null))!;
    const input = { email: 'ann@example.com', amount: 3 };
    expect(masker(input)).toEqual({ email: REDACTED, amount: 3 });
    expect(input.email).toBe('ann@example.com');
    const untouched = { amount: 1 };
    expect(masker(untouched)).toBe(untouched);
    expect(featureMasker(compilePolicy({ personalFields: ['crm_contact.email'] }), (v) => v)).toBeNull();
  });

  it('masks synced columns by their property names and drops raw whenever the table has a marked field', () => {
    const policy = compilePolicy({ personalFields: ['crm_contact.first_name', 'ticket.raw', 'gone.field'] });
    const mask = valueMask(policy.treatment, null);
    const contact = recordMasker('crm_contact', policy, mask)!;
    expect(contact({ firstName: 'Ann', lastName: 'Lee', raw: { properties: { firstname: 'Ann' } } })).toEqual(
      {
        firstName: REDACTED,
        lastName: 'Lee',
        raw: REDACTED_RAW,
      },
    );
    expect(recordMasker('ticket', policy, mask)!({ subject: 'Help', raw: { subject: 'Help' } })).toEqual({
      subject: 'Help',
      raw: REDACTED_RAW,
    });
    expect(recordMasker('crm_deal', policy, mask)).toBeNull();
  });
});
