// Package entra imports Microsoft Entra ID (Azure AD) through Microsoft
// Graph: interactive sign-ins become sso_login evidence, enterprise apps
// (service principals) become the Entra IdP app list, and delegated
// permission grants become oauth_grant evidence and the current Microsoft
// OAuth grants. It also imports the Entra portal's sign-in exports (CSV,
// or a saved Graph JSON page) for admins without API access.
//
// The app registration needs the Graph application permissions
// AuditLog.Read.All (sign-ins), Application.Read.All (service principals),
// Directory.Read.All (permission grants and users) with admin consent;
// sign-in logs also need an Entra ID P1 or P2 licence. With the optional
// Synchronization.Read.All it also reads which apps Entra provisions
// accounts into.
package entra
