/**
 * DDL of the demo upstream database, exactly the documented demo schema
 * (features "Demo schema & demo policies"). order_items and payments have no
 * `org` column on purpose: tenant isolation reaches them through order_id.
 */
import type { DemoDataset } from './dataset.js';

/** Creation order (parents first); drop in reverse. */
export const DEMO_TABLES = [
  'organizations',
  'customers',
  'products',
  'orders',
  'order_items',
  'payments',
  'support_tickets',
  'internal_metrics',
] as const satisfies readonly (keyof DemoDataset)[];
export type DemoTable = (typeof DEMO_TABLES)[number];

export const DEMO_DDL: readonly string[] = [
  `CREATE TABLE public.organizations (
    name TEXT PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
  )`,
  `CREATE TABLE public.customers (
    id UUID PRIMARY KEY,
    org TEXT NOT NULL REFERENCES public.organizations (name),
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT NOT NULL,
    phone TEXT,
    ssn TEXT,
    credit_card TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
  )`,
  `CREATE TABLE public.products (
    id UUID PRIMARY KEY,
    org TEXT NOT NULL REFERENCES public.organizations (name),
    name TEXT NOT NULL,
    description TEXT,
    price NUMERIC(10, 2) NOT NULL,
    cost_price NUMERIC(10, 2),
    margin NUMERIC(5, 4),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
  )`,
  `CREATE TABLE public.orders (
    id UUID PRIMARY KEY,
    org TEXT NOT NULL REFERENCES public.organizations (name),
    customer_id UUID NOT NULL REFERENCES public.customers (id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'shipped', 'delivered', 'cancelled')),
    total_amount NUMERIC(10, 2) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
  )`,
  `CREATE TABLE public.order_items (
    id UUID PRIMARY KEY,
    order_id UUID NOT NULL REFERENCES public.orders (id),
    product_id UUID NOT NULL REFERENCES public.products (id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    unit_price NUMERIC(10, 2) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
  )`,
  `CREATE TABLE public.payments (
    id UUID PRIMARY KEY,
    order_id UUID NOT NULL REFERENCES public.orders (id),
    amount NUMERIC(10, 2) NOT NULL,
    payment_method TEXT NOT NULL CHECK (payment_method IN ('credit_card', 'bank_transfer', 'paypal')),
    status TEXT NOT NULL,
    processed_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
  )`,
  `CREATE TABLE public.support_tickets (
    id UUID PRIMARY KEY,
    org TEXT NOT NULL REFERENCES public.organizations (name),
    customer_id UUID NOT NULL REFERENCES public.customers (id),
    subject TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'in_progress', 'resolved', 'closed')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
  )`,
  // Not tenant data: the table the table_deny tutorial hides.
  `CREATE TABLE public.internal_metrics (
    metric TEXT NOT NULL,
    value NUMERIC,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
  )`,
  // Tenant filters and FK joins are the demo's hot paths.
  'CREATE INDEX customers_org_idx ON public.customers (org)',
  'CREATE INDEX products_org_idx ON public.products (org)',
  'CREATE INDEX orders_org_idx ON public.orders (org)',
  'CREATE INDEX orders_customer_id_idx ON public.orders (customer_id)',
  'CREATE INDEX order_items_order_id_idx ON public.order_items (order_id)',
  'CREATE INDEX order_items_product_id_idx ON public.order_items (product_id)',
  'CREATE INDEX payments_order_id_idx ON public.payments (order_id)',
  'CREATE INDEX support_tickets_org_idx ON public.support_tickets (org)',
  'CREATE INDEX support_tickets_customer_id_idx ON public.support_tickets (customer_id)',
];

/** Column order used for inserts; the row objects carry the same keys. */
export const DEMO_COLUMNS: { [T in DemoTable]: readonly (keyof DemoDataset[T][number])[] } = {
  organizations: ['name', 'created_at'],
  customers: ['id', 'org', 'first_name', 'last_name', 'email', 'phone', 'ssn', 'credit_card', 'created_at'],
  products: ['id', 'org', 'name', 'description', 'price', 'cost_price', 'margin', 'created_at'],
  orders: ['id', 'org', 'customer_id', 'status', 'total_amount', 'created_at', 'updated_at'],
  order_items: ['id', 'order_id', 'product_id', 'quantity', 'unit_price', 'created_at'],
  payments: ['id', 'order_id', 'amount', 'payment_method', 'status', 'processed_at', 'created_at'],
  support_tickets: ['id', 'org', 'customer_id', 'subject', 'status', 'created_at'],
  internal_metrics: ['metric', 'value', 'recorded_at'],
};
