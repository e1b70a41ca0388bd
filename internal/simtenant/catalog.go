package simtenant

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// source is a connected system. Ids are fixed rather than seeded so demo
// dashboards keep the same sourceId labels from run to run.
type source struct {
	id   string
	name string
	// typ, connector, class and connectorName are as ISC spells them for
	// this connector; connector is also the connectorId.
	typ, connector, class, connectorName string
	authoritative                        bool
	cluster                              int // index in clustersCatalog; -1: a SaaS connector without one
	created, modified                    string
	features                             []string
	config                               map[string]any // connectorAttributes beyond the common ones
	native                               func(p person) string
	// errors are connector failures as ISC relays them, with {account} and
	// {client} (the virtual appliance) filled in.
	errors []string
	// grants are entitlement values an appRequest or refresh may add.
	grants []string
	attrs  []string
}

var sourcesCatalog = []source{
	{
		id: "2c91808363ef85290164000587130c0c", name: "Active Directory",
		typ: "Active Directory - Direct", connector: "active-directory", class: "sailpoint.connector.ADLDAPConnector", connectorName: "Active Directory",
		cluster: 0, created: "2022-02-08T14:50:03.827Z", modified: "2025-10-14T07:41:19.302Z",
		features: []string{"AUTHENTICATE", "DIRECT_PERMISSIONS", "DISCOVER_SCHEMA", "ENABLE", "MANAGER_LOOKUP", "SEARCH", "UNLOCK", "UNSTRUCTURED_TARGETS", "PROVISIONING", "GROUP_PROVISIONING", "SYNC_PROVISIONING", "PASSWORD", "CURRENT_PASSWORD"},
		config: map[string]any{
			"IQServiceHost": "iqs01.acme.com", "IQServicePort": "5050", "useTLSForIQService": true,
			"domainSettings": []any{map[string]any{"domainDN": "DC=acme,DC=com", "servers": []string{"dc01.acme.com", "dc02.acme.com"}, "port": "636", "useSSL": true}},
			"searchDNs":      []any{map[string]any{"searchDN": "OU=Users,OU=Corp,DC=acme,DC=com", "iterateSearchFilter": "(objectclass=user)"}},
		},
		native: func(p person) string { return fmt.Sprintf("CN=%s %s,OU=Users,OU=Corp,DC=acme,DC=com", p.first, p.last) },
		errors: []string{
			"sailpoint.connector.ConnectorException: java.lang.InterruptedException: Timeout waiting for response to message 0 from client {client} after 60 seconds.",
			"sailpoint.connector.ObjectNotFoundException: [ InvalidObjectException ] [ Possible suggestions ] Verify the object exists in the directory. [ Error details ] Object '{account}' could not be found.",
			"sailpoint.connector.ConnectorException: [ ConnectorError ] [ Error details ] Access is denied. (Exception from HRESULT: 0x80070005 (E_ACCESSDENIED)) while modifying '{account}'",
		},
		grants: []string{"CN=Finance-Users,OU=Groups,DC=acme,DC=com", "CN=VPN-Remote,OU=Groups,DC=acme,DC=com", "CN=SharePoint-Treasury,OU=Groups,DC=acme,DC=com", "CN=Domain Users,CN=Users,DC=acme,DC=com"},
		attrs:  []string{"memberOf", "department", "title", "manager", "IIQDisabled"},
	},
	{
		id: "2c9180845d1edece015d27a975983e21", name: "Workday",
		typ: "Workday", connector: "workday", class: "sailpoint.connector.WorkdayConnector", connectorName: "Workday",
		authoritative: true, cluster: 0, created: "2022-01-19T16:05:27.114Z", modified: "2025-09-30T12:00:08.551Z",
		features: []string{"SEARCH", "PROVISIONING", "SYNC_PROVISIONING"},
		config:   map[string]any{"url": "https://wd5-services1.myworkday.com/ccx/service/acme", "version": "v40.0", "includeFutureHires": true, "futureDays": "30"},
		native:   func(p person) string { return p.employeeID },
		errors: []string{
			"sailpoint.connector.ConnectorException: Workday SOAP fault: Validation error occurred. Invalid ID value. '{account}' is not a valid ID value for type = 'Employee_ID'",
			"sailpoint.connector.AuthenticationFailedException: Workday authentication failed for ISU_SailPoint@acme: invalid username or password",
		},
		grants: []string{"Time_Tracking_Partner", "Benefits_Administrator", "Manager_Self_Service"},
		attrs:  []string{"workEmail", "businessTitle", "costCenter"},
	},
	{
		id: "2c918086749d78830174a1a40e121518", name: "ServiceNow",
		typ: "ServiceNow", connector: "servicenow", class: "sailpoint.connector.ServiceNowConnector", connectorName: "ServiceNow",
		cluster: 0, created: "2022-06-30T08:22:51.640Z", modified: "2025-08-21T15:33:02.017Z",
		features: []string{"DISCOVER_SCHEMA", "ENABLE", "SEARCH", "PROVISIONING", "GROUP_PROVISIONING", "SYNC_PROVISIONING"},
		config:   map[string]any{"url": "https://acme.service-now.com", "authType": "OAuth2", "pageSize": "1000"},
		native:   func(p person) string { return strings.ToLower(p.first + "." + p.last) },
		errors: []string{
			"sailpoint.connector.AuthenticationFailedException: Authentication failed for user 'svc_sailpoint' against https://acme.service-now.com: HTTP 401 Unauthorized",
			"sailpoint.connector.ConnectorException: Error while updating user '{account}': HTTP 500 {\"error\":{\"message\":\"Operation Failed\",\"detail\":\"ACL Exception Update Failed due to security constraints\"}}",
		},
		grants: []string{"itil", "approver_user", "catalog_admin", "knowledge"},
		attrs:  []string{"roles", "groups", "active"},
	},
	{
		id: "2c9180887a6f1f2a017a7c0f4f9c2b11", name: "Okta",
		typ: "Okta", connector: "okta", class: "sailpoint.connector.OktaConnector", connectorName: "Okta",
		cluster: 1, created: "2023-02-13T11:47:36.905Z", modified: "2025-11-02T18:19:45.228Z",
		features: []string{"AUTHENTICATE", "ENABLE", "MANAGER_LOOKUP", "SEARCH", "UNLOCK", "PROVISIONING", "GROUP_PROVISIONING", "SYNC_PROVISIONING", "PASSWORD"},
		config:   map[string]any{"url": "https://acme.okta.com", "pageSize": "200", "enableStatuses": []string{"ACTIVE", "PROVISIONED"}},
		native:   func(p person) string { return p.email() },
		errors: []string{
			"sailpoint.connector.ConnectorException: Exception occurred while performing 'Modify' operation on identity '{account}': Error: API call exceeded rate limit due to too many requests. (429, E0000047)",
			"sailpoint.connector.ObjectNotFoundException: Not found: Resource not found: {account} (User) (404, E0000007)",
		},
		grants: []string{"Okta-Admins", "Zoom-Users", "Slack-Users", "AWS-Console-ReadOnly"},
		attrs:  []string{"groups", "status", "login"},
	},
	{
		id: "2c91808b6ef1d43e016efba0ce470904", name: "SAP ERP",
		typ: "SAP - Direct", connector: "sap", class: "sailpoint.connector.SAPConnector", connectorName: "SAP",
		cluster: 1, created: "2022-03-04T10:10:10.010Z", modified: "2025-07-07T06:45:59.999Z",
		features: []string{"DIRECT_PERMISSIONS", "ENABLE", "SEARCH", "UNLOCK", "PROVISIONING", "SYNC_PROVISIONING", "PASSWORD", "NO_PERMISSIONS_PROVISIONING"},
		config:   map[string]any{"host": "sap-prd.acme.com", "systemNumber": "00", "client": "100", "language": "EN", "sncMode": "1"},
		native:   func(p person) string { return strings.ToUpper(p.first[:1] + p.last)[:min(12, len(p.last)+1)] },
		errors: []string{
			"sailpoint.connector.ConnectorException: [ ConnectorException ] [ Error details ] BAPI_USER_CHANGE returned error: User {account} is currently locked by user SAPJOB",
			"sailpoint.connector.ConnectorException: com.sap.conn.jco.JCoException: (102) JCO_ERROR_COMMUNICATION: Connect to SAP gateway failed Connection parameters: TYPE=A ASHOST=sap-prd.acme.com SYSNR=00",
		},
		grants: []string{"Z_FI_AP_CLERK", "Z_FI_GL_DISPLAY", "SAP_ALL_DISPLAY", "Z_MM_BUYER"},
		attrs:  []string{"roles", "profiles", "userType"},
	},
	{
		id: "2c9180857182305e017191e5c8a32ff3", name: "Salesforce",
		typ: "Salesforce", connector: "salesforce", class: "sailpoint.connector.SalesforceConnector", connectorName: "Salesforce",
		cluster: -1, created: "2023-09-18T13:02:44.387Z", modified: "2025-10-01T09:09:31.476Z",
		features: []string{"DISCOVER_SCHEMA", "ENABLE", "SEARCH", "PROVISIONING", "GROUP_PROVISIONING", "SYNC_PROVISIONING", "PASSWORD"},
		config:   map[string]any{"instanceUrl": "https://acme.my.salesforce.com", "apiVersion": "59.0", "isSandbox": false},
		native:   func(p person) string { return p.email() + ".prod" },
		errors: []string{
			"sailpoint.connector.ConnectorException: INVALID_CROSS_REFERENCE_KEY: invalid cross reference id while updating '{account}'",
			"sailpoint.connector.ConnectorException: LICENSE_LIMIT_EXCEEDED: License Limit Exceeded. Unable to create '{account}'",
		},
		grants: []string{"Sales User", "Service Cloud User", "Marketing User", "Read Only"},
		attrs:  []string{"ProfileId", "PermissionSets", "IsActive"},
	},
	{
		id: "2c91808a7813090a017814121e121518", name: "Google Workspace",
		typ: "Google Apps - Direct", connector: "google-apps", class: "sailpoint.connector.GoogleAppsConnector", connectorName: "Google Workspace",
		cluster: 1, created: "2024-04-22T07:58:12.640Z", modified: "2025-11-11T21:04:26.081Z",
		features: []string{"ENABLE", "MANAGER_LOOKUP", "SEARCH", "PROVISIONING", "GROUP_PROVISIONING", "SYNC_PROVISIONING", "PASSWORD"},
		config:   map[string]any{"domainName": "acme.com", "adminEmail": "sailpoint-admin@acme.com", "pageSize": "500"},
		native:   func(p person) string { return p.email() },
		errors: []string{
			"sailpoint.connector.ConnectorException: 403 Forbidden { \"code\" : 403, \"errors\" : [ { \"domain\" : \"global\", \"message\" : \"Not Authorized to access this resource/api\", \"reason\" : \"forbidden\" } ] }",
			"sailpoint.connector.ConnectorException: java.lang.InterruptedException: Timeout waiting for response to message 12 from client {client} after 60 seconds.",
		},
		grants: []string{"all-staff@acme.com", "finance@acme.com", "drive-shared-legal@acme.com"},
		attrs:  []string{"groups", "orgUnitPath", "suspended"},
	},
}

// activityTypes lists the spec's types with weights that make refreshes and
// access requests dominate, as on a real tenant.
var activityTypes = []struct {
	name   string
	weight int
}{
	{"Identity Refresh", 34},
	{"appRequest", 20},
	{"Attribute Synchronization Refresh", 10},
	{"AccountAttributeUpdate", 7},
	{"CloudAutomated", 6},
	{"Lifecycle Change Refresh", 5},
	{"IdentityAttributeUpdate", 4},
	{"LifecycleStateChange", 4},
	{"CloudPasswordRequest", 4},
	{"AccountStateUpdate", 3},
	{"Certification", 3},
}

var (
	firstNames  = []string{"Sandie", "Adam", "Priya", "Marcus", "Elena", "Tomasz", "Aisha", "Kenji", "Olivia", "Rafael", "Ingrid", "Samuel", "Mei", "Diego", "Fatima", "Liam", "Noor", "Henrik", "Chloe", "Omar"}
	lastNames   = []string{"Camero", "Kennedy", "Raman", "Okafor", "Petrova", "Nowak", "Haddad", "Tanaka", "Bennett", "Alves", "Lindqvist", "Mensah", "Chen", "Morales", "Rahman", "Walsh", "Farouk", "Berg", "Dubois", "Siddiqui"}
	accessNames = []string{
		"Treasury Analyst [AccessProfile-1529010191212]", "Accounts Payable Clerk [AccessProfile-1529010191455]",
		"Sales Operations [AccessProfile-1611224471090]", "Engineering Base [Role-1587431152310]",
		"Helpdesk Tier 1 [AccessProfile-1602756635001]", "Contractor Baseline [Role-1573828117444]",
	}
	commentBodies = []string{
		"Needed for quarter-end close.", "Joining the treasury team next week.", "Approved per manager request.",
		"Access required for the ERP migration project.", "Temporary access, remove after audit.",
		"Reviewed with data owner; approved.", "Not needed for this role.", "Duplicate request, see previous ticket.",
	}
	warningTexts = []string{
		"Some warning, another warning",
		"Attribute 'manager' could not be resolved for the identity; leaving it unchanged.",
		"Account already has the requested entitlement; no change was made.",
		"Provisioning policy for source generated an empty value for attribute 'title'.",
	}
	lifecycleStates = []string{"active", "inactive", "prehire", "leaveOfAbsence", "terminated"}
)

// person is an identity in the simulated tenant.
type person struct {
	id, first, last, employeeID string
}

func (p person) name() string  { return p.first + " " + p.last }
func (p person) email() string { return strings.ToLower(p.first+"."+p.last) + "@acme.com" }

func makePeople(r *rand.Rand, n int) []person {
	ps := make([]person, n)
	for i := range ps {
		ps[i] = person{
			id:         hexID(r),
			first:      firstNames[r.IntN(len(firstNames))],
			last:       lastNames[r.IntN(len(lastNames))],
			employeeID: fmt.Sprintf("%06d", 100000+r.IntN(900000)),
		}
	}
	return ps
}

// hexID makes the 32-lowercase-hex ids ISC uses everywhere.
func hexID(r *rand.Rand) string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return hex.EncodeToString(b[:])
}

func uuidFrom(r *rand.Rand) string {
	h := hexID(r)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func pickType(r *rand.Rand) string {
	total := 0
	for _, t := range activityTypes {
		total += t.weight
	}
	n := r.IntN(total)
	for _, t := range activityTypes {
		if n < t.weight {
			return t.name
		}
		n -= t.weight
	}
	return activityTypes[0].name
}

// makeSources is the tenant's sources: the catalog, then as many synthetic
// sources as it takes to have n (Config.TaskSources). Synthetic sources are
// delimited-file sources with fixed ids and names, so that a test can run
// hundreds of sources; activities only ever name catalog sources.
func makeSources(n int) []source {
	out := slices.Clone(sourcesCatalog)
	for i := 0; len(out) < n; i++ {
		out = append(out, syntheticSource(i))
	}
	return out
}

func syntheticSource(i int) source {
	name := fmt.Sprintf("HR Feed %03d", i+1)
	file := fmt.Sprintf("hr-feed-%03d.csv", i+1)
	return source{
		id: hexOf(fmt.Sprintf("synthetic-source/%d", i)), name: name,
		typ: "DelimitedFile", connector: "delimited-file", class: "sailpoint.connector.DelimitedFileConnector", connectorName: "Delimited File",
		cluster: i % 2, created: "2024-06-03T09:12:44.210Z", modified: "2025-06-30T17:45:02.918Z",
		features: []string{"DIRECT_PERMISSIONS", "NO_RANDOM_ACCESS", "DISCOVER_SCHEMA"},
		config:   map[string]any{"file": file, "delimiter": ",", "hasHeader": true, "identityAttribute": "employeeId"},
		native:   func(p person) string { return p.employeeID },
		errors: []string{
			"sailpoint.connector.ConnectorException: Error reading '" + file + "' at line {line}: found 11 columns, the schema has 12.",
			"sailpoint.connector.ConnectorException: java.io.FileNotFoundException: " + file + " (No such file or directory) on client {client}",
		},
		grants: []string{"Employee", "Contractor", "Intern"},
		attrs:  []string{"department", "title", "costCenter"},
	}
}
