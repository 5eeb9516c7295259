/*
 * alert: JSON lines for alerts and incidents, in the schema of the event
 * feed (ECS).  An alert is its triggering event's fields (encode.h) with
 * event.kind "alert" and, added to them: event.severity (21/47/73/99),
 * event.reason, message, rule.*, threat.* (MITRE ATT&CK) and vigil.severity,
 * vigil.incident.id, vigil.alert.*.  Alerts from the resource sampler have
 * no event: they carry the container and the sample instead.  An incident
 * is event.kind "alert", event.action "incident" with vigil.incident.*
 * (id, state, chain, score, steps, because).  Pure code, no allocation.
 */
#ifndef VIGIL_ALERT_H
#define VIGIL_ALERT_H

#include "vigil/incident.h"
#include "vigil/json.h"
#include "vigil/rules.h"

/* One complete line (with '\n').  An alert about an event whose fields do
 * not fit in b is written in brief (message, process pid and name,
 * container, rule).  0, or -ENOSPC when b was too small even for that. */
int vg_alert_encode(struct vg_buf *b, const struct vg_alert *a);

/* One complete line (with '\n') for an incident record.  0 or -ENOSPC.
 * ctr may be NULL (written from the incident's own copy of the names). */
int vg_incident_encode(struct vg_buf *b, const struct vg_incident *inc,
		       const struct vg_container *ctr);

/* "open", "grew", "updated", "closed" */
const char *vg_incident_state_name(enum vg_incident_change change);

#endif
