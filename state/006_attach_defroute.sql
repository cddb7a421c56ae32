-- 006: default-route (Multus) of a pod attachment: the gateways it took the
-- pod's default route over with and the default routes it displaced, which
-- a detach puts back. JSON {"gw":[...],"prev":[{dev,dst,gw,metric,proto}]};
-- NULL when the attachment does not carry the default route.
ALTER TABLE attachments ADD COLUMN defroute TEXT;
