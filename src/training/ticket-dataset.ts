import { mulberry32 } from '../common/random';
/**
 * A synthetic but realistic stream of customer-support tickets for training a ticket router. The
 * generator is deterministic per seed. Each queue has its own phrasing, yet the queues share words
 * ("order", "plan", "charge", "account"), some tickets mix two topics, some are too vague to route,
 * some carry typos, and a few were filed under the wrong queue by the agents who labelled them, so a
 * good model lands well below 100% accuracy.
 */

export const QUEUES = ['billing', 'technical', 'account', 'shipping', 'sales'] as const;
export type Queue = (typeof QUEUES)[number];

export const CHANNELS = ['email', 'chat', 'phone', 'web'] as const;
export type Channel = (typeof CHANNELS)[number];

export const CUSTOMER_TIERS = ['free', 'pro', 'enterprise'] as const;
export type CustomerTier = (typeof CUSTOMER_TIERS)[number];

/** The raw fields of a ticket, as a router sees them at serving time. */
export interface TicketFields {
  subject: string;
  body: string;
  channel: Channel;
  customer_tier: CustomerTier;
  account_age_days: number;
  prior_tickets: number;
  attachments: number;
}

/** A labelled ticket: its fields and the queue that handled it. */
export interface Ticket extends TicketFields {
  queue: Queue;
}

/** The CSV columns of a ticket table, label last. */
export const TICKET_COLUMNS = [
  'subject',
  'body',
  'channel',
  'customer_tier',
  'account_age_days',
  'prior_tickets',
  'attachments',
  'queue',
] as const;

export interface TicketDatasetOptions {
  /** Number of tickets. */
  rows: number;
  /** PRNG seed; the same seed and options give the same tickets. Default 1. */
  seed?: number;
  /** Share of tickets that blend in a sentence from a neighbouring queue. Default 0.22. */
  mixedRate?: number;
  /** Share of tickets too vague to route from their text. Default 0.05. */
  vagueRate?: number;
  /** Share of tickets whose label is a different queue than their content (agent error). Default 0.04. */
  labelNoise?: number;
  /** Share of tickets that name their topic only through phrases every queue uses. Default 0.15. */
  terseRate?: number;
  /** Chance that a word gets a typo. Default 0.03. */
  typoRate?: number;
}

type Random = () => number;

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)];

/** Draws an index with probability proportional to its weight. */
function weighted(random: Random, weights: readonly number[]): number {
  const total = weights.reduce((a, b) => a + b, 0);
  let r = random() * total;
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i];
    if (r < 0) return i;
  }
  return weights.length - 1;
}

function poisson(random: Random, mean: number): number {
  const limit = Math.exp(-mean);
  let k = 0;
  let p = random();
  while (p > limit) {
    k++;
    p *= random();
  }
  return k;
}

/** Slot fillers shared by every queue's templates: `{plan}` in a template draws from `plan`. */
const SLOTS: Record<string, readonly string[]> = {
  plan: ['pro', 'team', 'business', 'starter', 'enterprise', 'basic'],
  platform: ['iOS', 'Android', 'Windows', 'macOS', 'Chrome', 'Safari', 'Firefox', 'the desktop app'],
  feature: ['dashboard', 'reports', 'export', 'search', 'calendar sync', 'notifications', 'file upload'],
  tool: ['Slack', 'Salesforce', 'Zapier', 'HubSpot', 'Google Drive', 'Jira', 'Shopify'],
  code: ['500', '502', '403', 'E1042', 'ERR_TIMEOUT', '0x80070005', 'SYNC_FAILED', '429'],
  carrier: ['UPS', 'FedEx', 'DHL', 'the courier', 'USPS', 'the post office'],
  item: ['headset', 'charger', 'starter kit', 'card reader', 'replacement cable', 'printed manual'],
  seats: ['10', '25', '40', '120', '300', 'about 50', 'a few hundred'],
  competitor: ['Zendesk', 'Freshdesk', 'a competitor', 'our current vendor', 'Intercom'],
  month: ['January', 'March', 'last month', 'this month', 'May', 'September', 'October'],
  amount: ['$49', '$99', '$12.50', '$240', '$1,200', '€79', '£30', 'twice the usual amount'],
  when: ['yesterday', 'this morning', 'since Monday', 'for two days', 'last week', 'since the update'],
};

interface QueueText {
  subjects: readonly string[];
  sentences: readonly string[];
}

const TEXT: Record<Queue, QueueText> = {
  billing: {
    subjects: [
      'Charged twice for my {plan} plan',
      'Refund request',
      'Question about my invoice',
      'Payment failed',
      'Wrong amount on my bill',
      'Invoice missing VAT number',
      'Card declined at renewal',
      'Why was I charged {amount}?',
      'Duplicate charge on my card',
      'Need a receipt for {month}',
      'Billing error on my account',
      'Cancel auto renewal and refund',
    ],
    sentences: [
      'I was charged twice for the {plan} plan {month}.',
      'My card statement shows {amount} but the invoice says something else.',
      'Please refund the duplicate charge as soon as possible.',
      'The payment keeps failing even though my credit card is valid.',
      'I need a copy of the invoice with our VAT number on it.',
      'Why did the price go up at renewal without any notice?',
      'Can you switch our subscription to annual billing?',
      'The invoice for {month} lists seats we removed weeks ago.',
      'I cancelled my subscription but was still charged {amount}.',
      'Our finance team needs a receipt and the billing address corrected.',
      'The charge appeared on my bank statement as an unknown merchant.',
      'Please update the payment method on file to our company card.',
      'We were billed for the {plan} plan although we downgraded.',
      'I was promised a credit on my next invoice but it never showed up.',
      'How do I get a refund for the unused months?',
      'The tax on the invoice looks wrong for our country.',
    ],
  },
  technical: {
    subjects: [
      'App crashes on {platform}',
      'Error {code} when uploading files',
      'Sync not working',
      'Export to CSV times out',
      'API returns {code}',
      '{tool} integration broken',
      'The {feature} page is blank',
      'Bug: {feature} not loading',
      'Webhooks stopped firing',
      'Very slow performance {when}',
      'Cannot connect to the server',
      'Data missing after the update',
    ],
    sentences: [
      'The app crashes every time I open the {feature} on {platform}.',
      'I get error {code} when I try to upload a file.',
      'The page is stuck loading and then shows a blank screen.',
      'Our API calls return {code} {when}.',
      'The {tool} integration stopped syncing {when}.',
      'Webhooks are not firing anymore and our pipeline is blocked.',
      'I already cleared the cache and reinstalled the app, same error.',
      'Steps to reproduce: open {feature}, click save, the spinner never stops.',
      'The export times out for large reports.',
      'Some records disappeared from the {feature} after the last update.',
      'The mobile app freezes when notifications arrive.',
      'Attached is a screenshot of the error message and the console log.',
      'The search returns no results even for items I can see.',
      'Is there an outage? Everything is very slow {when}.',
      'The calendar sync duplicates every event.',
      'The bug happens on {platform} but not in the browser.',
    ],
  },
  account: {
    subjects: [
      "Can't log in",
      'Reset password link expired',
      'Change the email on my account',
      'Lost my phone, need 2FA reset',
      'Please delete my account',
      'Add a user to our team',
      'Account locked',
      'Transfer account ownership',
      'Login problem',
      'Merge two accounts',
      'Update my profile name',
      'SSO login not accepted',
    ],
    sentences: [
      'I forgot my password and the reset email never arrives.',
      'My account is locked after too many login attempts.',
      'I lost my phone and cannot get the two factor code.',
      'How do I change the email address on my profile?',
      'Please delete my account and all of my personal data.',
      'I need to transfer ownership of the workspace to a colleague who is taking over.',
      'The reset password link says it has expired.',
      'I want to add three new users to our team and remove an old admin.',
      'I have two accounts with different emails, can you merge them?',
      'My username changed after the rename and I cannot sign in.',
      'Single sign on rejects my login with an invalid user message.',
      'Please update the name on my profile, it is misspelled.',
      'Someone else may have accessed my account, please secure it.',
      'I never received the verification email for my new account.',
      'Our former admin left the company and we need access to the account.',
      'How can I change my role from member to admin?',
    ],
  },
  shipping: {
    subjects: [
      'Where is my order?',
      'Package not delivered',
      'Damaged {item} received',
      'Wrong delivery address',
      'Tracking not updating',
      'Need a return label',
      'Order arrived incomplete',
      'Delivery delayed',
      'Received the wrong {item}',
      'Change shipping address',
      'Lost parcel',
      'Exchange request for my {item}',
    ],
    sentences: [
      'My order has not arrived yet and it has been two weeks.',
      'The tracking number shows no updates {when}.',
      'The box arrived damaged and the {item} is broken.',
      'I need to change the delivery address before it ships.',
      '{carrier} says the parcel was delivered but I never got it.',
      'Can you send me a return label for the {item}?',
      'Only half of the order was in the package.',
      'I ordered a {item} but received something else.',
      'The delivery was delayed again and I need it by Friday.',
      'Please exchange the {item} for a different size.',
      '{carrier} left the package at the wrong door.',
      'When will my backordered {item} ship?',
      'The parcel is stuck in customs {when}.',
      'Please confirm the shipping address on my order.',
      'The courier lost my parcel and tracking shows returned to sender.',
      'How much is express shipping to Canada?',
    ],
  },
  sales: {
    subjects: [
      'Pricing for {seats} seats',
      'Enterprise plan quote',
      'Demo request',
      'Discount for nonprofits',
      'Upgrade to {plan}',
      'Volume licensing question',
      'Interested in your product',
      'Comparing you with {competitor}',
      'Trial extension request',
      'Partnership inquiry',
      'Questions before we buy',
      'Custom contract terms',
    ],
    sentences: [
      'We are a team of {seats} people and would like a quote.',
      'Can we schedule a demo with your team next week?',
      'Do you offer discounts for nonprofits or schools?',
      'What is included in the enterprise plan compared to {plan}?',
      'We are evaluating you against {competitor} and need pricing.',
      'Is there a free trial of the {plan} features?',
      'Our procurement team needs a custom contract and security review.',
      'Can we get volume pricing for {seats} licenses?',
      'I would like to upgrade our workspace to the {plan} plan.',
      'Do you have a reseller or partner program?',
      'Could someone call me to discuss a purchase this quarter?',
      'We are interested in the {feature} and want to know the price.',
      'Could you extend our trial by two weeks so the team can decide?',
      'Do you support annual contracts with invoicing for {seats} users?',
      'Please send a proposal to our head of operations.',
      'What would it cost to add {seats} more seats?',
    ],
  },
};

/**
 * Sentences a ticket of one queue borrows from another: the overlaps that make routing hard (a refund
 * for an undelivered order, a login error that is really a bug, an upgrade question about an invoice).
 */
const NEIGHBOURS: Record<Queue, readonly Queue[]> = {
  billing: ['sales', 'account', 'shipping'],
  technical: ['account', 'billing'],
  account: ['technical', 'billing'],
  shipping: ['billing', 'sales'],
  sales: ['billing', 'account'],
};

const GREETINGS = ['Hi,', 'Hello,', 'Hello team,', 'Hi there,', 'Dear support,', 'Hey,', 'Good morning,', ''];
const CLOSINGS = [
  'Thanks in advance.',
  'Thank you.',
  'Please help.',
  'This is urgent.',
  'Regards.',
  'Looking forward to your reply.',
  'Cheers.',
  'Thanks for your help with my account.',
  'Please reply to this email.',
  '',
];
/** Words every queue uses, so no single token decides the queue. */
const FILLERS = [
  'I have a question about my order.',
  'This is the second time I am writing about this.',
  'I am a long time customer.',
  'Please look into my account.',
  'Our team depends on this.',
  'Can someone from support get back to me today?',
  'I could not find the answer in the help center.',
  'It affects our whole company.',
];
const SHARED_SUBJECTS = [
  'Problem with the {@link}',
  'Question about the {@date}',
  'Wrong {@address}',
  'About the {@number}',
  'Help: {@failed}',
];
const VAGUE_SUBJECTS = ['Help', 'Question', 'Urgent!!', 'Re: my ticket', 'Issue', 'Following up', 'Problem'];
const VAGUE_SENTENCES = [
  'Nothing works as expected, please call me.',
  'I have a problem with my account and my order.',
  'Please get back to me as soon as possible.',
  'Same issue as last time, still not fixed.',
  'Can you check what is going on with our plan?',
  'I need help with something, it is urgent.',
];

/** How each queue's tickets arrive and who sends them: [email, chat, phone, web] and [free, pro, enterprise]. */
const CHANNEL_WEIGHTS: Record<Queue, readonly number[]> = {
  billing: [5, 2, 2, 2],
  technical: [3, 5, 1, 3],
  account: [3, 4, 2, 3],
  shipping: [5, 2, 3, 2],
  sales: [3, 2, 3, 5],
};
const TIER_WEIGHTS: Record<Queue, readonly number[]> = {
  billing: [3, 5, 2],
  technical: [3, 4, 4],
  account: [5, 3, 2],
  shipping: [5, 4, 1],
  sales: [6, 3, 2],
};
/** Median account age in days, and mean prior tickets and attachments, per queue. */
const NUMBERS: Record<Queue, { age: number; prior: number; attachments: number }> = {
  billing: { age: 400, prior: 1.5, attachments: 0.6 },
  technical: { age: 500, prior: 3, attachments: 1.3 },
  account: { age: 150, prior: 1, attachments: 0.2 },
  shipping: { age: 200, prior: 1, attachments: 0.8 },
  sales: { age: 30, prior: 0.4, attachments: 0.1 },
};

/**
 * Phrases every queue uses with a different modifier, so the head word alone says little ("address",
 * "failed", "link") while the pair says a lot: what word bigrams and enough hash buckets pick up.
 */
const COMPOUNDS: Record<Queue, Record<string, readonly string[]>> = {
  billing: {
    address: ['billing address', 'invoice address'],
    failed: ['payment failed', 'the card was declined', 'the charge failed'],
    number: ['invoice number', 'VAT number', 'receipt number'],
    date: ['due date', 'renewal date', 'billing date'],
    link: ['payment link', 'invoice link'],
  },
  technical: {
    address: ['IP address', 'server address', 'webhook address'],
    failed: ['sync failed', 'upload failed', 'the import failed', 'the build failed'],
    number: ['error number', 'version number', 'build number'],
    date: ['release date of the fix', 'date format in the export'],
    link: ['download link', 'share link', 'API link'],
  },
  account: {
    address: ['email address', 'login email address', 'recovery email address'],
    failed: ['login failed', 'sign in failed', 'the password reset failed'],
    number: ['phone number for two factor', 'recovery phone number', 'user number'],
    date: ['password expiry date', 'last login date'],
    link: ['reset link', 'verification link', 'invite link'],
  },
  shipping: {
    address: ['shipping address', 'delivery address', 'return address'],
    failed: ['delivery failed', 'the delivery attempt failed', 'the pickup failed'],
    number: ['tracking number', 'order number', 'parcel number'],
    date: ['delivery date', 'shipping date', 'estimated arrival date'],
    link: ['tracking link', 'return label link'],
  },
  sales: {
    address: ['company address for the contract', 'office address for the quote'],
    failed: ['the demo booking failed', 'the quote request failed', 'the trial signup failed'],
    number: ['quote number', 'number of seats we need', 'contract number'],
    date: ['contract start date', 'date of the demo', 'trial end date'],
    link: ['booking link', 'calendar link', 'pricing page link'],
  },
};

/** Sentences any queue may write; the queue shows only through its compounds (`{@address}`). */
const SHARED_SENTENCES = [
  'Could you check the {@number} I sent earlier?',
  'The {@link} does not work.',
  '[I have a question about|Please confirm] the {@date}.',
  'It says {@failed} again {when}.',
  'Please [change|update|correct] the {@address}.',
  'Nobody answered my last message about the {@number}.',
  'I [got|received] an email that {@failed}.',
  '[Where can I find|Can you resend] the {@link}?',
];

/**
 * Expands a template: `{slot}` draws from the shared slots, `{@compound}` from the queue's compounds,
 * `[a|b|c]` picks one alternative.
 */
function fill(template: string, random: Random, queue: Queue): string {
  const text = template
    .replace(/\[([^\]]+)\]/g, (_, options: string) => pick(random, options.split('|')))
    .replace(/\{(@?)(\w+)\}/g, (_, own: string, slot: string) =>
      pick(random, own ? COMPOUNDS[queue][slot] : SLOTS[slot]),
    );
  return text.charAt(0).toUpperCase() + text.slice(1);
}

const KEYBOARD_NEIGHBOURS = 'qwertyuiopasdfghjklzxcvbnm';

/** One typo: a dropped, doubled, swapped or substituted letter. */
function typo(word: string, random: Random): string {
  if (word.length < 4 || !/^[a-z]+$/i.test(word)) return word;
  const i = 1 + Math.floor(random() * (word.length - 2));
  switch (Math.floor(random() * 4)) {
    case 0:
      return word.slice(0, i) + word.slice(i + 1);
    case 1:
      return word.slice(0, i) + word[i] + word.slice(i);
    case 2:
      return word.slice(0, i - 1) + word[i] + word[i - 1] + word.slice(i + 1);
    default:
      return word.slice(0, i) + pick(random, [...KEYBOARD_NEIGHBOURS]) + word.slice(i + 1);
  }
}

function roughen(text: string, random: Random, rate: number): string {
  if (rate <= 0) return text;
  return text
    .split(' ')
    .map((word) => (random() < rate ? typo(word, random) : word))
    .join(' ');
}

function shuffled<T>(items: readonly T[], random: Random): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

type Rates = Required<Omit<TicketDatasetOptions, 'rows' | 'seed'>>;

function ticket(queue: Queue, random: Random, options: Rates): Ticket {
  const text = TEXT[queue];
  const kind = random();
  let subject: string;
  const sentences: string[] = [];
  if (kind < options.vagueRate) {
    subject = pick(random, VAGUE_SUBJECTS);
    sentences.push(pick(random, VAGUE_SENTENCES));
    if (random() < 0.5) sentences.push(pick(random, FILLERS));
  } else if (kind < options.vagueRate + options.terseRate) {
    // Terse: only the queue's compounds ("tracking link", "reset link") tell where it belongs.
    subject = fill(pick(random, SHARED_SUBJECTS), random, queue);
    for (const s of shuffled(SHARED_SENTENCES, random).slice(0, 1 + weighted(random, [2, 1])))
      sentences.push(fill(s, random, queue));
    if (random() < 0.5) sentences.push(pick(random, FILLERS));
  } else {
    subject = fill(pick(random, text.subjects), random, queue);
    const own = 1 + weighted(random, [3, 4, 2]);
    for (const s of shuffled(text.sentences, random).slice(0, own)) sentences.push(fill(s, random, queue));
    if (random() < 0.4) sentences.push(fill(pick(random, SHARED_SENTENCES), random, queue));
    if (random() < options.mixedRate) {
      const neighbour = pick(random, NEIGHBOURS[queue]);
      const borrowed = fill(pick(random, TEXT[neighbour].sentences), random, neighbour);
      // A mixed ticket sometimes leads with the other topic, or even titles itself after it.
      if (random() < 0.5) sentences.unshift(borrowed);
      else sentences.push(borrowed);
      if (random() < 0.25) subject = fill(pick(random, TEXT[neighbour].subjects), random, neighbour);
    }
    if (random() < 0.4) sentences.splice(Math.floor(random() * sentences.length), 0, pick(random, FILLERS));
  }
  const greeting = pick(random, GREETINGS);
  const closing = pick(random, CLOSINGS);
  const body = [greeting, ...sentences, closing].filter(Boolean).join(' ');

  const numbers = NUMBERS[queue];
  // Log-normal account ages around the queue's median; a day-zero account is a prospect.
  const age = Math.round(numbers.age * Math.exp(1.1 * gaussian(random)));
  return {
    subject: roughen(random() < 0.1 ? subject.toUpperCase() : subject, random, options.typoRate),
    body: roughen(body, random, options.typoRate),
    channel: CHANNELS[weighted(random, CHANNEL_WEIGHTS[queue])],
    customer_tier: CUSTOMER_TIERS[weighted(random, TIER_WEIGHTS[queue])],
    account_age_days: Math.min(age, 3650),
    prior_tickets: poisson(random, numbers.prior),
    attachments: Math.min(poisson(random, numbers.attachments), 6),
    queue,
  };
}

/** A standard normal draw (Box-Muller). */
function gaussian(random: Random): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Queue shares of the ticket stream: technical and billing dominate, sales is the smallest. */
const QUEUE_WEIGHTS: readonly number[] = [24, 26, 20, 18, 12];

/** Generates `rows` labelled tickets, deterministic for a given seed and options. */
export function generateTickets(options: TicketDatasetOptions): Ticket[] {
  const random = mulberry32(options.seed ?? 1);
  const settings = {
    mixedRate: options.mixedRate ?? 0.22,
    vagueRate: options.vagueRate ?? 0.05,
    terseRate: options.terseRate ?? 0.15,
    labelNoise: options.labelNoise ?? 0.04,
    typoRate: options.typoRate ?? 0.03,
  };
  const tickets: Ticket[] = [];
  for (let i = 0; i < options.rows; i++) {
    const t = ticket(QUEUES[weighted(random, QUEUE_WEIGHTS)], random, settings);
    if (random() < settings.labelNoise)
      t.queue = pick(
        random,
        QUEUES.filter((q) => q !== t.queue),
      );
    tickets.push(t);
  }
  return tickets;
}

/** The fields of a ticket without its label: what a caller sends the router. */
export function ticketFields(t: Ticket): TicketFields {
  return {
    subject: t.subject,
    body: t.body,
    channel: t.channel,
    customer_tier: t.customer_tier,
    account_age_days: t.account_age_days,
    prior_tickets: t.prior_tickets,
    attachments: t.attachments,
  };
}

function csvCell(value: unknown): string {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * RFC 4180 CSV: a header row, then one record per row, CRLF line breaks; a field holding a comma, quote
 * or line break is quoted, with quotes doubled. Columns default to the keys of the first row.
 */
export function toCsv<T extends object>(
  rows: readonly T[],
  columns: ReadonlyArray<keyof T & string> = rows.length
    ? (Object.keys(rows[0]) as Array<keyof T & string>)
    : [],
): string {
  const lines = [columns.map(csvCell).join(',')];
  for (const row of rows) lines.push(columns.map((c) => csvCell(row[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
