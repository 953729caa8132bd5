// The app's own strings in English and Spanish. Form labels come from the server (GET /api/v1/forms?lang=).
const CATALOGUE = {
  en: {
    appName: "Field records",
    signIn: "Sign in", username: "Username", password: "Password", signingIn: "Signing in…",
    signOut: "Sign out", language: "Language",
    signInOffline: "You are offline. Signing in needs the network once; your saved edits are kept.",
    sync: "Sync now", syncing: "Syncing…", online: "Online", offline: "Offline",
    lastSynced: "Last synced", never: "never", pending: "edits waiting to sync", pendingOne: "edit waiting to sync",
    allSynced: "All edits synced", rejectedCount: "edits need fixing", conflictsWord: "sent for review",
    syncState: "Sync status", outbox: "Waiting to sync", nothingWaiting: "Nothing waiting.",
    home: "Home", back: "Back", save: "Save", cancel: "Cancel", edit: "Edit", required: "Required",
    startShift: "Start a shift", van: "Van / unit", partner: "Partner", noPartner: "No partner",
    currentShift: "Current shift", noShift: "No shift started.", shiftLog: "Shift log",
    status: "Status", enRoute: "En route", onScene: "On scene", available: "Available",
    transporting: "Transporting", outOfService: "Out of service",
    callsOffered: "Calls offered", offerCall: "Call offered by dispatch", accept: "Accept", decline: "Decline",
    declineReason: "Why declined", logThisCall: "Log this call",
    logOnView: "Log on-view", logDispatched: "Log dispatched call", engagements: "Engagements",
    noEngagements: "No engagements yet.", person: "Person (alias or initials)", referralTo: "Referred to",
    more: "More details", saved: "Saved. It will sync when there is signal.",
    endAndSubmit: "End shift and submit for review", submitNeedsSync: "Sync every edit before submitting.",
    submitted: "Shift log submitted for review.", returnedTitle: "Your supervisor returned this shift log",
    reviewStatus: "Review", approved: "Approved and locked", submittedState: "Submitted for review",
    returnedState: "Returned with a comment", openState: "Open", resubmit: "Fix and submit again",
    incidents: "Incidents", newIncident: "New incident", cases: "Follow-up cases", newCase: "New follow-up case",
    sceneResponse: "Scene response", newSceneResponse: "Log a scene response", due: "due", overdue: "Overdue",
    contactAttempt: "Contact attempt", reachedInPerson: "Reached in person", reachedPhone: "Reached by phone",
    noAnswerPhone: "No answer (phone)", noAnswerInPerson: "Not found (in person)", textSent: "Text sent",
    attempts: "Contact attempts", noCases: "No follow-up cases.", noIncidents: "No incidents.",
    rejectedTitle: "Not accepted by the server", fixAndResend: "Fix and resend", resend: "Resend",
    resendQueued: "Correction saved; it is sent at the next sync.",
    noticesTitle: "What happened to your edits",
    merged: "Your edit was combined with changes made on another phone ({fields}).",
    conflict: "Someone else changed {field} first. The server kept their value ({kept}); yours ({yours}) went to the supervisor for review.",
    amendment: "This shift log is approved and locked: your edit was sent to the supervisor as an amendment request.",
    unknownStatus: "The server answered “{status}”, which this app does not know. The edit is kept and will be sent again.",
    pendingStatus: "Waiting for an earlier edit to reach the server.",
    revoked: "This phone was revoked: syncing stopped. Ask your supervisor.",
    inactive: "Your account is deactivated: syncing stopped.",
    sessionEnded: "Your session ended. Sign in again to sync; your edits are kept.",
    busy: "The server is busy; trying again in {s} s.", upgrade: "This app is out of date: reload to update.",
    networkError: "No connection to the server; your edits are kept.",
    signOutWarn: "{n} edits have not reached the server. Signing out now deletes them from this phone. Sign out anyway?",
    signOutConfirm: "Sign out and delete", keepSignedIn: "Stay signed in",
    fixErrors: "Fix the highlighted fields.", recordOf: "Record", mustBeBefore: "must not be before",
    add: "Add", remove: "Remove", counterMinus: "One fewer", counterPlus: "One more",
    yes: "Yes", no: "No", none: "—", teamLabel: "Team", risk: "Risk", choose: "Choose…",
    dvpHome: "Follow-ups and incidents", deviceName: "Field app", macro: "MACRO", dvp: "DVP",
  },
  es: {
    appName: "Registros de campo",
    signIn: "Entrar", username: "Usuario", password: "Contraseña", signingIn: "Entrando…",
    signOut: "Salir", language: "Idioma",
    signInOffline: "Sin conexión. Para entrar se necesita la red una vez; sus cambios guardados se conservan.",
    sync: "Sincronizar", syncing: "Sincronizando…", online: "En línea", offline: "Sin conexión",
    lastSynced: "Última sincronización", never: "nunca", pending: "cambios por sincronizar", pendingOne: "cambio por sincronizar",
    allSynced: "Todo sincronizado", rejectedCount: "cambios por corregir", conflictsWord: "enviado a revisión",
    syncState: "Estado de sincronización", outbox: "Por sincronizar", nothingWaiting: "Nada pendiente.",
    home: "Inicio", back: "Volver", save: "Guardar", cancel: "Cancelar", edit: "Editar", required: "Obligatorio",
    startShift: "Empezar turno", van: "Camioneta / unidad", partner: "Compañero(a)", noPartner: "Sin compañero(a)",
    currentShift: "Turno actual", noShift: "No hay turno iniciado.", shiftLog: "Registro del turno",
    status: "Estado", enRoute: "En camino", onScene: "En el lugar", available: "Disponible",
    transporting: "Trasladando", outOfService: "Fuera de servicio",
    callsOffered: "Llamadas ofrecidas", offerCall: "Llamada ofrecida por despacho", accept: "Aceptar", decline: "Rechazar",
    declineReason: "Motivo del rechazo", logThisCall: "Registrar esta llamada",
    logOnView: "Registrar a la vista", logDispatched: "Registrar llamada despachada", engagements: "Atenciones",
    noEngagements: "Aún no hay atenciones.", person: "Persona (alias o iniciales)", referralTo: "Referido a",
    more: "Más detalles", saved: "Guardado. Se sincroniza cuando haya señal.",
    endAndSubmit: "Terminar turno y enviar a revisión", submitNeedsSync: "Sincronice todos los cambios antes de enviar.",
    submitted: "Registro enviado a revisión.", returnedTitle: "Su supervisor(a) devolvió este registro",
    reviewStatus: "Revisión", approved: "Aprobado y bloqueado", submittedState: "Enviado a revisión",
    returnedState: "Devuelto con un comentario", openState: "Abierto", resubmit: "Corregir y volver a enviar",
    incidents: "Incidentes", newIncident: "Nuevo incidente", cases: "Casos de seguimiento", newCase: "Nuevo caso",
    sceneResponse: "Respuesta en el lugar", newSceneResponse: "Registrar respuesta en el lugar", due: "vence", overdue: "Vencido",
    contactAttempt: "Intento de contacto", reachedInPerson: "Localizado en persona", reachedPhone: "Localizado por teléfono",
    noAnswerPhone: "Sin respuesta (teléfono)", noAnswerInPerson: "No encontrado (en persona)", textSent: "Mensaje enviado",
    attempts: "Intentos de contacto", noCases: "No hay casos.", noIncidents: "No hay incidentes.",
    rejectedTitle: "El servidor no lo aceptó", fixAndResend: "Corregir y reenviar", resend: "Reenviar",
    resendQueued: "Corrección guardada; se envía en la próxima sincronización.",
    noticesTitle: "Qué pasó con sus cambios",
    merged: "Su cambio se combinó con cambios hechos en otro teléfono ({fields}).",
    conflict: "Otra persona cambió {field} primero. El servidor conservó su valor ({kept}); el suyo ({yours}) pasó a revisión del supervisor.",
    amendment: "Este registro está aprobado y bloqueado: su cambio se envió al supervisor como solicitud de enmienda.",
    unknownStatus: "El servidor respondió «{status}», que esta app no conoce. El cambio se conserva y se reenviará.",
    pendingStatus: "Esperando que llegue un cambio anterior.",
    revoked: "Este teléfono fue revocado: la sincronización se detuvo. Hable con su supervisor(a).",
    inactive: "Su cuenta está desactivada: la sincronización se detuvo.",
    sessionEnded: "Su sesión terminó. Entre de nuevo para sincronizar; sus cambios se conservan.",
    busy: "El servidor está ocupado; se reintenta en {s} s.", upgrade: "Esta app está desactualizada: recargue para actualizar.",
    networkError: "Sin conexión con el servidor; sus cambios se conservan.",
    signOutWarn: "{n} cambios no han llegado al servidor. Si sale ahora se borran de este teléfono. ¿Salir de todos modos?",
    signOutConfirm: "Salir y borrar", keepSignedIn: "Seguir dentro",
    fixErrors: "Corrija los campos marcados.", recordOf: "Registro", mustBeBefore: "no puede ser antes de",
    add: "Agregar", remove: "Quitar", counterMinus: "Uno menos", counterPlus: "Uno más",
    yes: "Sí", no: "No", none: "—", teamLabel: "Equipo", risk: "Riesgo", choose: "Elegir…",
    dvpHome: "Seguimientos e incidentes", deviceName: "App de campo", macro: "MACRO", dvp: "DVP",
  },
};

let current = "en";

export function setLanguage(lang) {
  current = CATALOGUE[lang] ? lang : "en";
  document.documentElement.lang = current;
}

export function language() {
  return current;
}

export function t(key, vars = {}) {
  const text = CATALOGUE[current][key] ?? CATALOGUE.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

export const LANGUAGES = [["en", "English"], ["es", "Español"]];
