/**
 * The demo e-commerce data set (features "Demo schema & demo policies"):
 * three tenants with customers, products, orders and their items, payments
 * and support tickets, plus the `internal_metrics` table the table_deny
 * tutorial hides. Pure and deterministic: a seeded PRNG, name-derived UUIDs
 * and timestamps relative to a fixed epoch, so every build is identical.
 *
 * Values are kept as the strings PostgreSQL will store (NUMERIC as decimal
 * text, timestamps as ISO-8601 UTC) so no float rounding can creep in.
 */
import { v5 as uuidv5 } from 'uuid';
import { Rng, seedFromString } from './prng.js';
import {
  FIRST_NAMES,
  INTERNAL_METRICS,
  LAST_NAMES,
  ORDER_STATUSES,
  PAYMENT_METHODS,
  PRODUCT_ADJECTIVES,
  PRODUCT_BLURBS,
  PRODUCT_NOUNS,
  TICKET_STATUSES,
  TICKET_SUBJECTS,
} from './vocabulary.js';

export const DEMO_DATABASE = 'demo_ecommerce';
export const DEMO_TENANTS = ['acme', 'globex', 'stark'] as const;
export type DemoTenant = (typeof DEMO_TENANTS)[number];
/** All demo timestamps lie before this instant. */
export const DEMO_EPOCH = Date.UTC(2026, 0, 1);
export const DEMO_PER_TENANT = { customers: 10, products: 20, orders: 34, support_tickets: 50 } as const;

export type OrderStatus = (typeof ORDER_STATUSES)[number];

export interface OrganizationRow {
  name: string;
  created_at: string;
}
export interface CustomerRow {
  id: string;
  org: string;
  first_name: string;
  last_name: string;
  email: string;
  phone: string;
  ssn: string;
  credit_card: string;
  created_at: string;
}
export interface ProductRow {
  id: string;
  org: string;
  name: string;
  description: string;
  price: string;
  cost_price: string;
  margin: string;
  created_at: string;
}
export interface OrderRow {
  id: string;
  org: string;
  customer_id: string;
  status: OrderStatus;
  total_amount: string;
  created_at: string;
  updated_at: string;
}
export interface OrderItemRow {
  id: string;
  order_id: string;
  product_id: string;
  quantity: number;
  unit_price: string;
  created_at: string;
}
export interface PaymentRow {
  id: string;
  order_id: string;
  amount: string;
  payment_method: string;
  status: string;
  processed_at: string;
  created_at: string;
}
export interface SupportTicketRow {
  id: string;
  org: string;
  customer_id: string;
  subject: string;
  status: string;
  created_at: string;
}
export interface InternalMetricRow {
  metric: string;
  value: string;
  recorded_at: string;
}

export interface DemoDataset {
  organizations: OrganizationRow[];
  customers: CustomerRow[];
  products: ProductRow[];
  orders: OrderRow[];
  order_items: OrderItemRow[];
  payments: PaymentRow[];
  support_tickets: SupportTicketRow[];
  internal_metrics: InternalMetricRow[];
}

const NAMESPACE = uuidv5('demo_ecommerce.rowgate', uuidv5.DNS);
const DAY = 86_400_000;
const MINUTE = 60_000;

const id = (name: string): string => uuidv5(name, NAMESPACE);
const iso = (ms: number): string => new Date(ms).toISOString();
const pad = (n: number, width: number): string => String(n).padStart(width, '0');
/** Integer cents → `123.45`. */
const money = (cents: number): string => `${Math.floor(cents / 100)}.${pad(cents % 100, 2)}`;

/** Luhn check digit for `payload`, so the fake card numbers are well-formed. */
export function luhnCheckDigit(payload: string): number {
  let sum = 0;
  for (let i = 0; i < payload.length; i++) {
    let d = Number(payload[payload.length - 1 - i]);
    if (i % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

function creditCard(rng: Rng): string {
  const payload = `4111${rng.digits(11)}`;
  const digits = `${payload}${luhnCheckDigit(payload)}`;
  return digits.match(/.{4}/g)!.join('-');
}

/** Instant `daysBefore` days (plus a random time of day) before the epoch. */
function before(rng: Rng, minDays: number, maxDays: number): number {
  return DEMO_EPOCH - rng.int(minDays, maxDays) * DAY + rng.int(0, 1439) * MINUTE;
}

function buildTenant(tenant: DemoTenant, data: DemoDataset): void {
  const rng = new Rng(seedFromString(`${DEMO_DATABASE}:${tenant}`));
  const customers: CustomerRow[] = [];
  const firsts = rng.sample(FIRST_NAMES, DEMO_PER_TENANT.customers);
  const lasts = rng.sample(LAST_NAMES, DEMO_PER_TENANT.customers);
  for (let n = 0; n < DEMO_PER_TENANT.customers; n++) {
    const [first, last] = [firsts[n]!, lasts[n]!];
    customers.push({
      id: id(`${tenant}/customer/${n}`),
      org: tenant,
      first_name: first,
      last_name: last,
      email: `${first}.${last}@${tenant}.example`.toLowerCase(),
      phone: `+1-555-${rng.int(200, 999)}-${rng.digits(4)}`,
      ssn: `${pad(rng.int(100, 665), 3)}-${pad(rng.int(1, 99), 2)}-${pad(rng.int(1, 9999), 4)}`,
      credit_card: creditCard(rng),
      created_at: iso(before(rng, 400, 700)),
    });
  }

  const names = PRODUCT_ADJECTIVES.flatMap((a) => PRODUCT_NOUNS.map((noun) => `${a} ${noun}`));
  const products: ProductRow[] = rng.sample(names, DEMO_PER_TENANT.products).map((name, n) => {
    const price = rng.int(5, 499) * 100 + 99;
    const cost = Math.round((price * rng.int(35, 75)) / 100);
    return {
      id: id(`${tenant}/product/${n}`),
      org: tenant,
      name,
      description: `${name}. ${rng.pick(PRODUCT_BLURBS)}`,
      price: money(price),
      cost_price: money(cost),
      margin: `0.${pad(Math.round(((price - cost) * 10_000) / price), 4)}`,
      created_at: iso(before(rng, 400, 700)),
    };
  });
  const priceCents = (p: ProductRow): number => Math.round(Number(p.price) * 100);

  for (let n = 0; n < DEMO_PER_TENANT.orders; n++) {
    const orderId = id(`${tenant}/order/${n}`);
    // The first orders cycle through every status so each one occurs per tenant.
    const status = n < ORDER_STATUSES.length ? ORDER_STATUSES[n]! : rng.pick(ORDER_STATUSES);
    const created = before(rng, 11, 365);
    let total = 0;
    rng.sample(products, rng.int(1, 4)).forEach((product, k) => {
      const quantity = rng.int(1, 5);
      total += quantity * priceCents(product);
      data.order_items.push({
        id: id(`${tenant}/order/${n}/item/${k}`),
        order_id: orderId,
        product_id: product.id,
        quantity,
        unit_price: product.price,
        created_at: iso(created),
      });
    });
    data.orders.push({
      id: orderId,
      org: tenant,
      customer_id: rng.pick(customers).id,
      status,
      total_amount: money(total),
      created_at: iso(created),
      updated_at: iso(status === 'pending' ? created : created + rng.int(1, 10) * DAY),
    });
    // Money has changed hands once an order is past `pending` and not cancelled.
    if (status !== 'pending' && status !== 'cancelled') {
      data.payments.push({
        id: id(`${tenant}/payment/${n}`),
        order_id: orderId,
        amount: money(total),
        payment_method: rng.pick(PAYMENT_METHODS),
        status: 'completed',
        processed_at: iso(created + rng.int(5, 120) * MINUTE),
        created_at: iso(created),
      });
    }
  }

  for (let n = 0; n < DEMO_PER_TENANT.support_tickets; n++) {
    data.support_tickets.push({
      id: id(`${tenant}/ticket/${n}`),
      org: tenant,
      customer_id: rng.pick(customers).id,
      subject: rng.pick(TICKET_SUBJECTS),
      status: rng.pick(TICKET_STATUSES),
      created_at: iso(before(rng, 1, 365)),
    });
  }
  data.customers.push(...customers);
  data.products.push(...products);
}

export function buildDemoDataset(): DemoDataset {
  const data: DemoDataset = {
    organizations: DEMO_TENANTS.map((name, i) => ({
      name,
      created_at: iso(DEMO_EPOCH - (900 - i * 60) * DAY),
    })),
    customers: [],
    products: [],
    orders: [],
    order_items: [],
    payments: [],
    support_tickets: [],
    internal_metrics: [],
  };
  for (const tenant of DEMO_TENANTS) buildTenant(tenant, data);
  const rng = new Rng(seedFromString(`${DEMO_DATABASE}:internal_metrics`));
  data.internal_metrics = INTERNAL_METRICS.map((metric) => ({
    metric,
    value: money(rng.int(1, 5_000_000)),
    recorded_at: iso(DEMO_EPOCH - DAY),
  }));
  return data;
}
