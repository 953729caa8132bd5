"""Program administration and the authenticator set-up in Spanish: ?lang=es (remembered in the language cookie)
or the browser's Accept-Language. Our own text (the admin's labels, help texts, actions and messages, the
authenticator pages, the roles) comes from responders/locale; Django's own admin strings from Django's."""

import uuid

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from responders.models import Device, Role, User
from tests.responders.test_two_factor import code_for


@pytest.fixture
def macro_admin(field):
    user = field.user("macro_admin", field.macro, None, Role.PROGRAM_ADMIN)
    User.objects.filter(pk=user.pk).update(is_staff=True)
    client = Client()
    client.force_login(user)
    return client


def test_the_program_admins_people_list_in_spanish(field, macro_admin):
    page = macro_admin.get("/admin/responders/user/", {"lang": "es"})
    body = page.content.decode()
    assert page.status_code == 200 and page["Content-Language"] == "es"
    assert 'lang="es"' in body
    assert "Registros de campo de Oakland · Administración" in body  # our site header
    assert "Restablecer la aplicación de autenticación" in body  # our action names
    assert "Permitir un teléfono nuevo sin aprobación" in body
    assert "Respondedor(a) de campo · MACRO / van-1" in body  # a role named by its Spanish label
    assert "Reset the authenticator app" not in body and "Field responder" not in body
    # Remembered: the next admin page is Spanish without asking again, and a list of devices says their state.
    Device.objects.create(id=uuid.uuid4(), user=field.responder, name="Pixel 8")
    devices = macro_admin.get("/admin/responders/device/").content.decode()
    assert "Esperando aprobación" in devices and "Revocar (el dispositivo deja de sincronizar" in devices
    assert "Waiting for approval" not in devices


def test_an_admin_action_answers_in_spanish(field, macro_admin):
    response = macro_admin.post(
        "/admin/responders/user/?lang=es",
        {"action": "allow_one_new_device", "_selected_action": [field.responder.pk]},
        follow=True,
    )
    assert "1 persona puede iniciar sesión en un teléfono nuevo sin aprobación." in response.content.decode()


def test_a_person_in_the_admin_form_in_spanish(field, macro_admin):
    body = macro_admin.get(
        f"/admin/responders/user/{field.responder.pk}/change/", HTTP_ACCEPT_LANGUAGE="es-US,es;q=0.9"
    ).content.decode()
    assert "Dispositivos nuevos permitidos sin aprobación" in body  # our verbose name
    assert "Cuántos teléfonos nuevos puede usar esta persona" in body  # our help text
    assert "Roles en programas" in body  # the inline's title


def test_the_authenticator_set_up_and_its_recovery_codes_in_spanish(field):
    client = Client()
    client.force_login(field.supervisor)
    page = client.get("/account/two-factor/", {"lang": "es"})
    body = page.content.decode()
    assert page.status_code == 200 and 'lang="es"' in body
    assert "Configure su aplicación de autenticación" in body
    assert "En la aplicación, agregue una cuenta y escanee este código:" in body
    assert "Set up your authenticator app" not in body
    # The header too: the site's name, the skip link and signing out.
    assert "Registros de campo de Oakland" in body and "Ir al contenido" in body and "Cerrar sesión de" in body
    wrong = client.post("/account/two-factor/", {"code": "12"})
    assert wrong.status_code == 400 and "Ese código no es correcto." in wrong.content.decode()
    device = TOTPDevice.objects.get(user=field.supervisor)
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0, throttling_failure_timestamp=None)
    codes = client.post("/account/two-factor/", {"code": code_for(device)}).content.decode()
    assert "Códigos de recuperación" in codes
    assert "Si pierde su teléfono, inicie sesión con uno de estos 10 códigos" in codes
    done = client.get("/account/two-factor/").content.decode()
    assert "Le quedan 10 códigos de recuperación sin usar." in done


def test_crews_are_pointed_to_the_field_app_in_spanish(field):
    client = Client()
    client.force_login(field.responder)
    page = client.get("/account/two-factor/", HTTP_ACCEPT_LANGUAGE="es")
    assert page.status_code == 403 and "Abrir la aplicación de campo" in page.content.decode()


def test_the_api_stays_english_for_a_spanish_browser(field):
    response = Client().post(
        "/api/v1/auth/login",
        {"username": field.responder.username, "password": "wrong-password-1", "device_id": "x"},
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="es",
    )
    assert response.status_code in (400, 401) and "Content-Language" not in response
